import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { Tracer } from "@aws-lambda-powertools/tracer";

/**
 * One logger, one metrics object and one tracer per function container, configured from
 * POWERTOOLS_* env. The tracer only records on Lambda (it turns itself off when AWS_EXECUTION_ENV
 * is unset, as in tests and the local runtime, or when POWERTOOLS_TRACE_ENABLED is "false").
 */
export const logger = new Logger();
export const metrics = new Metrics();
export const tracer = new Tracer();

/**
 * Publishes the metrics an invocation stored, at its end. One that stored none (an idle poll, a
 * tick with nothing to do) publishes nothing, and without Powertools' "No application metrics to
 * publish" warning: that is not a fault, and a warning per invocation would drown the real ones.
 */
export function publishMetrics(target: Metrics = metrics): void {
  if (target.hasStoredMetrics()) target.publishStoredMetrics();
}

/**
 * Wraps a Lambda handler in a `## handler` subsegment with the cold-start and service annotations
 * (Powertools' manual instrumentation, without middy); errors are recorded and rethrown. The SDK
 * clients' calls (adapters/clients.ts) appear as subsegments of it.
 */
export function traceHandler<E, C, R>(handler: (event: E, context: C) => Promise<R>) {
  return async (event: E, context: C): Promise<R> => {
    const segment = tracer.getSegment();
    const subsegment = segment?.addNewSubsegment(`## ${process.env._HANDLER ?? "handler"}`);
    if (subsegment) tracer.setSegment(subsegment);
    tracer.annotateColdStart();
    tracer.addServiceNameAnnotation();
    try {
      return await handler(event, context);
    } catch (error) {
      tracer.addErrorAsMetadata(error as Error);
      throw error;
    } finally {
      if (segment && subsegment) {
        subsegment.close();
        tracer.setSegment(segment);
      }
    }
  };
}
