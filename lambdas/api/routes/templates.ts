import { randomUUID } from "node:crypto";
import type { Template, TemplateStore } from "../../adapters/template-store.ts";
import { ConflictError, NotFoundError, ValidationError } from "../../domain/errors.ts";
import type { Deps, RouteHandler } from "../context.ts";
import { json, jsonBody, validate } from "../http.ts";
import type { RouteDoc } from "../router.ts";
import { pageQuerySchema } from "../schemas.ts";
import {
  createTemplateSchema,
  templatePageSchema,
  templateVersionBodySchema,
  templateVersionSchema,
  templateWithContentSchema,
} from "../template-schemas.ts";
import { checkContentSize, paged, pathId } from "./helpers.ts";

/**
 * Templates: reusable content with immutable versions. A campaign created from a template copies
 * the version's content (routes/campaigns.ts), so a new version never alters a campaign.
 */

export const createTemplate: RouteHandler = async (event, _params, deps) => {
  const input = validate(createTemplateSchema, jsonBody(event));
  const { name, ...content } = input;
  checkContentSize(content);
  const now = deps.now().toISOString();
  const template: Template = {
    id: randomUUID(),
    name,
    homeRegion: deps.ownership.region,
    latestVersion: 1,
    createdAt: now,
    updatedAt: now,
  };
  const version = await deps.templates.create(template, content);
  return json(201, { ...template, content: version });
};

export const pageTemplates: RouteHandler = async (event, _params, deps) => {
  const query = validate(pageQuerySchema, event.queryStringParameters ?? {}, "query");
  return json(200, await paged(() => deps.templates.page(query.limit, query.cursor)));
};

/** The template with its latest version's content. */
export const getTemplate: RouteHandler = async (_event, params, deps) => {
  const template = await requireTemplate(params, deps);
  const content = await deps.templates.version(template.id, template.latestVersion, true);
  if (!content) throw new NotFoundError("template");
  return json(200, { ...template, content });
};

export const getTemplateVersion: RouteHandler = async (_event, params, deps) => {
  const template = await requireTemplate(params, deps);
  const number = Number(params.version);
  const version =
    Number.isSafeInteger(number) && number >= 1
      ? await deps.templates.version(template.id, number)
      : undefined;
  if (!version) throw new NotFoundError("template version");
  return json(200, version);
};

/**
 * Adds a version (the whole content; versions never change). Only the template's home region
 * writes it (one writer per item); another region answers 409 naming it.
 */
export const addTemplateVersion: RouteHandler = async (event, params, deps) => {
  const template = await requireTemplate(params, deps, true);
  const { name, ...content } = validate(templateVersionBodySchema, jsonBody(event));
  checkContentSize(content);
  if (template.homeRegion !== deps.ownership.region)
    throw new ConflictError(
      `this template's versions are added in its home region ${template.homeRegion}; send the request there`,
    );
  const version = await deps.templates.addVersion(template, content, name, deps.now().toISOString());
  if (version === "conflict")
    throw new ConflictError("another version was added at the same time; try again");
  return json(201, version);
};

/**
 * The content of a template's version (its latest when none is given) for a campaign, with the
 * template and version it came from; `subject` replaces the template's. 400 naming the field when
 * the template or the version does not exist.
 */
export async function templateContent(
  templates: Pick<TemplateStore, "get" | "version">,
  templateId: string,
  versionNumber: number | undefined,
  subject: string | undefined,
) {
  const template = await templates.get(templateId, true);
  if (!template) throw fieldError("body.templateId", "template does not exist");
  const number = versionNumber ?? template.latestVersion;
  const version = await templates.version(templateId, number, true);
  if (!version) throw fieldError("body.templateVersion", "the template has no such version");
  return {
    subject: subject ?? version.subject,
    html: version.html,
    ...(version.text ? { text: version.text } : {}),
    templateId,
    templateVersion: number,
  };
}

function fieldError(path: string, message: string): ValidationError {
  return new ValidationError(`${path}: ${message}`, [{ path, message }]);
}

async function requireTemplate(
  params: Record<string, string>,
  deps: Deps,
  consistent = false,
): Promise<Template> {
  const template = await deps.templates.get(pathId(params, "id", "template"), consistent);
  if (!template) throw new NotFoundError("template");
  return template;
}

export const docs = {
  createTemplate: {
    summary: "Create a template, its content as version 1",
    body: createTemplateSchema,
    responses: { 201: { description: "created", schema: templateWithContentSchema } },
  },
  pageTemplates: {
    summary: "Templates, newest first",
    query: pageQuerySchema,
    responses: { 200: { description: "a page", schema: templatePageSchema } },
  },
  getTemplate: {
    summary: "A template with its latest version's content",
    responses: { 200: { description: "the template", schema: templateWithContentSchema } },
  },
  getTemplateVersion: {
    summary: "One version of a template (versions never change)",
    responses: { 200: { description: "the version", schema: templateVersionSchema } },
  },
  addTemplateVersion: {
    summary: "Add a version (in the template's home region; 409 elsewhere)",
    body: templateVersionBodySchema,
    responses: { 201: { description: "the new version", schema: templateVersionSchema } },
  },
} satisfies Record<string, RouteDoc>;
