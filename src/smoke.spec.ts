import 'reflect-metadata';
import { describe, expect, it } from '@jest/globals';
import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { PostHog } from 'posthog-node';
import { Redis } from 'ioredis';

@Injectable()
class A {
  hi() {
    return 'hi';
  }
}
@Injectable()
class B {
  constructor(readonly a: A) {}
}
@Module({ providers: [A, B] })
class M {}

describe('smoke', () => {
  it('boots', async () => {
    const mod = await Test.createTestingModule({ imports: [M] }).compile();
    expect(mod.get(B).a.hi()).toBe('hi');
    expect(typeof PostHog).toBe('function');
    expect(typeof Redis).toBe('function');
  });
});
