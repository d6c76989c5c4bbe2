import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";

/** One logger and one metrics object per function container, configured from POWERTOOLS_* env. */
export const logger = new Logger();
export const metrics = new Metrics();
