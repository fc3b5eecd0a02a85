/**
 * OpenTelemetry's SDK for `anvil server`, started only when traces have
 * somewhere to go: `tracing_endpoint` in the config file or
 * OTEL_EXPORTER_OTLP_ENDPOINT (spans are POSTed to its /v1/traces), or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (the full URL). OTEL_SDK_DISABLED=true
 * keeps it off; OTEL_SERVICE_NAME renames the service (default `anvil`);
 * the exporter reads OTEL_EXPORTER_OTLP_HEADERS itself.
 *
 * The SDK packages are optional: they are imported by name at start, so a
 * deployment that never traces does not load them. When tracing is asked for
 * and they are missing, the server says so and runs without traces (an
 * observability tool must never stop the store).
 */
import type { Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';

import type { Config } from '../config/config.js';
import { setTracer } from '../tracing.js';
import { VERSION } from './version.js';

/** What `npm install` needs for tracing (the 2.x SDK line: the 3.x one needs Node 22). */
export const TRACING_PACKAGES = ['@opentelemetry/sdk-trace-node', '@opentelemetry/exporter-trace-otlp-http', '@opentelemetry/resources'];

/** The parts of the SDK used here, typed by hand: the packages are optional and may be absent at build time. */
interface SdkTraceNode {
  NodeTracerProvider: new (config: { resource?: unknown; spanProcessors?: unknown[] }) => {
    register(): void;
    getTracer(name: string, version?: string): Tracer;
    shutdown(): Promise<void>;
  };
  BatchSpanProcessor: new (exporter: unknown) => unknown;
}
interface ExporterOtlpHttp {
  OTLPTraceExporter: new (config: { url: string }) => unknown;
}
interface Resources {
  resourceFromAttributes(attributes: Record<string, string>): unknown;
}

export interface Tracing {
  /** Where spans go. */
  url: string;
  /** Sends the spans still buffered and turns tracing off. */
  shutdown(): Promise<void>;
}

/** The OTLP/HTTP traces URL the settings name, or undefined when tracing is off. */
export function tracesUrl(config: Pick<Config, 'tracingEndpoint'>, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (!config.tracingEndpoint) return undefined;
  return `${config.tracingEndpoint.replace(/\/+$/, '')}/v1/traces`;
}

/** Starts the SDK when tracing is configured; undefined when it is off or cannot start. */
export async function startTracing(
  config: Pick<Config, 'tracingEndpoint'>,
  log: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Tracing | undefined> {
  const url = tracesUrl(config, env);
  if (!url) return undefined;
  let sdk: SdkTraceNode, exporter: ExporterOtlpHttp, resources: Resources;
  try {
    const [a, b, c] = await Promise.all(TRACING_PACKAGES.map((name) => import(name)));
    [sdk, exporter, resources] = [a as SdkTraceNode, b as ExporterOtlpHttp, c as Resources];
  } catch (err) {
    log.warn(
      { url, packages: TRACING_PACKAGES, err: err instanceof Error ? err.message : String(err) },
      `tracing is configured but OpenTelemetry's SDK is not installed: no traces are sent (npm install ${TRACING_PACKAGES.join(' ')})`,
    );
    return undefined;
  }
  const provider = new sdk.NodeTracerProvider({
    resource: resources.resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME || 'anvil', 'service.version': VERSION }),
    spanProcessors: [new sdk.BatchSpanProcessor(new exporter.OTLPTraceExporter({ url }))],
  });
  // Also installs the AsyncLocalStorage context manager (spans find their parent across awaits)
  // and the W3C traceparent propagator (a request joins its caller's trace).
  provider.register();
  setTracer(provider.getTracer('anvil', VERSION));
  log.info({ url }, 'tracing: spans are exported over OTLP/HTTP');
  return {
    url,
    async shutdown() {
      setTracer(undefined);
      await provider.shutdown();
    },
  };
}
