import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { ImportRowError } from "../../adapters/import-store.ts";
import { parseCsv } from "../../domain/csv.ts";
import { NotFoundError, ValidationError } from "../../domain/errors.ts";
import type { AudienceJob } from "../../contracts/messages.ts";
import { mapLimit } from "../../shared/concurrency.ts";
import type { RouteHandler } from "../context.ts";
import { csvBody, json } from "../http.ts";
import type { RouteDoc } from "../router.ts";
import { importJobSchema, subscriberSchema } from "../schemas.ts";
import { pathId } from "./helpers.ts";

const MAX_IMPORT_ROWS = 100_000;
/** Rows per queue message, and a byte budget well inside SQS's 256 KB message limit. */
const CHUNK_ROWS = 1_000;
const CHUNK_BYTES = 200 * 1024;
/** Row errors kept on the job (a DynamoDB item holds at most 400 KB). */
const MAX_LISTED_ERRORS = 500;
const ATTRIBUTE_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

type Row = { email: string; attributes: Record<string, string> };

/**
 * Imports a CSV file into a list. The file is validated here (header, every row); the valid rows
 * are queued in chunks for the audience-jobs function, which upserts them by address (re-posting the file never
 * duplicates anyone) and completes the job. 202 with the job id.
 */
export const createImport: RouteHandler = async (event, params, deps) => {
  const listId = pathId(params, "listId", "list");
  const text = csvBody(event);
  const parsed = parseCsv(text);
  if (!parsed.ok) {
    const message = `${parsed.error} (line ${parsed.line})`;
    throw new ValidationError(`body: ${message}`, [{ path: "body", message }]);
  }
  const [header, ...data] = parsed.rows;
  const columns = (header ?? []).map((name) => name.trim());
  const emailColumn = columns.findIndex((name) => name.toLowerCase() === "email");
  const headerIssues: { path: string; message: string }[] = [];
  if (emailColumn < 0) headerIssues.push({ path: "body.header", message: "an email column is required" });
  columns.forEach((name, i) => {
    if (i !== emailColumn && !ATTRIBUTE_NAME.test(name))
      headerIssues.push({
        path: `body.header.${i}`,
        message: `column "${name.slice(0, 64)}" is not a valid attribute name`,
      });
  });
  if (new Set(columns.map((c) => c.toLowerCase())).size !== columns.length)
    headerIssues.push({ path: "body.header", message: "column names must be unique" });
  if (data.length === 0) headerIssues.push({ path: "body", message: "the file has no data rows" });
  if (data.length > MAX_IMPORT_ROWS)
    headerIssues.push({ path: "body", message: `at most ${MAX_IMPORT_ROWS} rows per file` });
  if (headerIssues.length > 0)
    throw new ValidationError(`${headerIssues[0]?.path}: ${headerIssues[0]?.message}`, headerIssues);
  if (!(await deps.lists.get(listId))) throw new NotFoundError("list");

  const errors: ImportRowError[] = [];
  // Last row wins for an address that appears twice, as in PUT /subscribers.
  const byEmail = new Map<string, Row>();
  data.forEach((cells, index) => {
    const row = index + 1;
    if (cells.length !== columns.length) {
      errors.push({ row, error: `expected ${columns.length} fields, found ${cells.length}` });
      return;
    }
    const attributes: Record<string, string> = {};
    columns.forEach((name, i) => {
      const value = cells[i] ?? "";
      if (i !== emailColumn && value !== "") attributes[name] = value;
    });
    const result = subscriberSchema.safeParse({ email: cells[emailColumn], attributes });
    if (!result.success) {
      const issue = result.error.issues[0];
      errors.push({
        row,
        error: issue ? `${issue.path.join(".")}: ${issue.message}`.slice(0, 200) : "invalid row",
      });
      return;
    }
    byEmail.delete(result.data.email);
    byEmail.set(result.data.email, { email: result.data.email, attributes });
  });

  const id = randomUUID();
  const now = deps.now().toISOString();
  const chunks = chunkRows([...byEmail.values()]);
  // Rows not queued (invalid, or an earlier duplicate) count as processed from the start.
  const queuedRows = chunks.reduce((sum, c) => sum + c.length, 0);
  await deps.imports.create({
    id,
    listId,
    status: chunks.length === 0 ? "completed" : "running",
    rows: data.length,
    processed: data.length - queuedRows,
    imported: 0,
    errors: errors.slice(0, MAX_LISTED_ERRORS),
    ...(errors.length > MAX_LISTED_ERRORS ? { moreErrors: errors.length - MAX_LISTED_ERRORS } : {}),
    createdAt: now,
    updatedAt: now,
    ...(chunks.length === 0 ? { completedAt: now } : {}),
    chunks: chunks.length,
  });
  try {
    await mapLimit(chunks, 8, (subscribers, chunk) =>
      deps.queue.send(deps.audienceJobsQueueUrl, {
        kind: "import-chunk",
        jobId: id,
        listId,
        chunk,
        rows: subscribers.length,
        subscribers,
      } satisfies AudienceJob),
    );
  } catch (error) {
    // Chunks already queued still run; the job says it did not go through as a whole.
    await deps.imports.finish(id, "failed", deps.now().toISOString()).catch(() => undefined);
    throw error;
  }
  return json(202, { id, listId, status: chunks.length === 0 ? "completed" : "running", rows: data.length });
};

export const getImport: RouteHandler = async (_event, params, deps) => {
  const id = pathId(params, "id", "import");
  const job = await deps.imports.get(id);
  if (!job) throw new NotFoundError("import");
  return json(200, job);
};

function chunkRows(rows: Row[]): Row[][] {
  const chunks: Row[][] = [];
  let current: Row[] = [];
  let bytes = 0;
  for (const row of rows) {
    const size = Buffer.byteLength(JSON.stringify(row), "utf8") + 1;
    if (current.length > 0 && (current.length >= CHUNK_ROWS || bytes + size > CHUNK_BYTES)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(row);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

export const docs = {
  createImport: {
    summary: "Import a CSV file (header row with an email column; up to 100,000 rows, 5 MB)",
    body: z.string().meta({ description: "RFC 4180 CSV; other columns become string attributes" }),
    bodyContentType: "text/csv",
    responses: {
      202: {
        description: "accepted; poll GET /v1/imports/{id}",
        schema: importJobSchema.pick({ id: true, listId: true, status: true, rows: true }),
      },
    },
  },
  getImport: {
    summary: "Progress of an import",
    responses: { 200: { description: "the job", schema: importJobSchema } },
  },
} satisfies Record<string, RouteDoc>;
