import type { InMemoryMetricExporter, MetricReader } from '@opentelemetry/sdk-metrics';
import type { Registry } from 'prom-client';

/** One metric's samples: a key of its label values (sorted by label name) → value. */
export type Samples = Map<string, number>;

/** A name → samples view of a prom-client registry right now. */
export async function promSnapshot(registry: Registry): Promise<Map<string, Samples>> {
  const out = new Map<string, Samples>();
  for (const metric of await registry.getMetricsAsJSON()) {
    const samples: Samples = new Map();
    for (const { labels, value, metricName } of metric.values as Array<{
      labels: Record<string, unknown>;
      value: number;
      metricName?: string;
    }>) {
      // A histogram's series: only its count and sum (`part`), as OpenTelemetry's below.
      const part = metricName?.slice(metric.name.length + 1);
      if (part === 'bucket') continue;
      samples.set(labelKey(part ? { ...labels, part } : labels), value);
    }
    out.set(metric.name, samples);
  }
  return out;
}

/** A name → samples view of what an OpenTelemetry reader collects right now (cumulative). */
export async function otelSnapshot(
  reader: MetricReader,
  exporter: InMemoryMetricExporter,
): Promise<Map<string, Samples>> {
  exporter.reset();
  await reader.forceFlush();
  const out = new Map<string, Samples>();
  for (const resource of exporter.getMetrics()) {
    for (const scope of resource.scopeMetrics) {
      for (const metric of scope.metrics) {
        const samples: Samples = new Map();
        for (const point of metric.dataPoints) {
          const value = point.value as number | { count: number; sum?: number };
          if (typeof value === 'number') samples.set(labelKey(point.attributes), value);
          else {
            samples.set(labelKey({ ...point.attributes, part: 'count' }), value.count);
            samples.set(labelKey({ ...point.attributes, part: 'sum' }), value.sum ?? 0);
          }
        }
        out.set(metric.descriptor.name, samples);
      }
    }
  }
  return out;
}

/** Renames label names (`from` → `to`), keeping only the listed ones; a filter drops the rest. */
export function relabel(
  samples: Samples | undefined,
  names: Record<string, string>,
  filter: Record<string, string> = {},
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of samples ?? []) {
    const labels = JSON.parse(key) as Record<string, string>;
    if (Object.entries(filter).some(([name, wanted]) => labels[name] !== wanted)) continue;
    const kept: Record<string, string> = {};
    for (const [from, to] of Object.entries(names)) kept[to] = labels[from];
    out[labelKey(kept)] = value;
  }
  return out;
}

function labelKey(labels: Record<string, unknown>): string {
  const sorted = Object.keys(labels)
    .sort((a, b) => a.localeCompare(b))
    .map((name) => [name, String(labels[name])]);
  return JSON.stringify(Object.fromEntries(sorted));
}
