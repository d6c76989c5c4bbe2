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
