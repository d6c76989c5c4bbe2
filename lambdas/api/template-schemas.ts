import { z } from "zod";
import { htmlField, idField, MAX_PART, nameField, page, subjectField, templateField } from "./schemas.ts";

/** Template requests and answers (validated at the edge; documented in the OpenAPI document). */

const contentFields = {
  subject: subjectField,
  html: htmlField,
  text: templateField("text", MAX_PART).optional(),
};

export const createTemplateSchema = z.strictObject({ name: nameField, ...contentFields });

/** A new version: its content whole (versions never change), and the template's name if it changes. */
export const templateVersionBodySchema = z.strictObject({ ...contentFields, name: nameField.optional() });

const templateSchema = z.object({
  id: z.string(),
  name: z.string(),
  homeRegion: z.string().describe("the region whose API adds the template's versions"),
  latestVersion: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export const templatePageSchema = page(templateSchema);

export const templateVersionSchema = z.object({
  templateId: idField,
  version: z.number().int(),
  subject: z.string(),
  html: z.string(),
  text: z.string().optional(),
  createdAt: z.string(),
});

export const templateWithContentSchema = templateSchema.extend({ content: templateVersionSchema });
