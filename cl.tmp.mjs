import { RedisClusterServers } from './.build/test/support/redis-cluster.js';
import { NodeRedisAdapter } from './.build/src/redis/node-redis-adapter.js';
import { createCluster } from 'redis';
import { Cluster } from 'ioredis';
const s = await RedisClusterServers.start();
const c = createCluster({ rootNodes: s.nodes.map((socket) => ({ socket })) });
c.on('error', (e) => console.log('err', e.message));
await c.connect();
const a = new NodeRedisAdapter(c);
console.log('connect', await a.connect(1000));
const sub = a.subscribe('{x}:changed', (m) => console.log('got', m));
await sub.ready; console.log('subscribed');
const io = new Cluster(s.nodes);
for (let i = 0; i < 3; i++) { console.log('published to', await io.publish('{x}:changed', 'hello' + i)); await new Promise(r => setTimeout(r, 200)); }
console.log('script', await a.runScript("redis.call('PUBLISH', KEYS[1], ARGV[1]) return {1, redis.call('EXISTS', KEYS[1]), 'h'}", ['{x}:changed'], ['viaScript']));
await new Promise(r => setTimeout(r, 300));
await sub.close(500); await a.close(500); io.disconnect(); await s.stop(); process.exit(0);
