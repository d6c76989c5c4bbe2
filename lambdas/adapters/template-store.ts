import { type DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { transactWrite } from "./dynamo/batch.ts";
import type { Page } from "./dynamo/cursor.ts";
import { isCancelledByCondition } from "./dynamo/errors.ts";
import { createIndexed, oneItem, pageIndexed } from "./dynamo/indexed.ts";
import { templateIndexKey, templateKey, TEMPLATES_PK, templateVersionKey } from "./dynamo/keys.ts";

export interface Template {
  readonly id: string;
  readonly name: string;
  /** The region whose API writes the template's versions: the one that created it. */
  readonly homeRegion: string;
  readonly latestVersion: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** One version of a template's content: immutable once written. */
export interface TemplateVersion {
  readonly templateId: string;
  readonly version: number;
  readonly subject: string;
  readonly html: string;
  readonly text?: string;
  readonly createdAt: string;
}

export type TemplateContent = Pick<TemplateVersion, "subject" | "html" | "text">;

/**
 * Templates (`TEMPLATE#<id>/#META`), their versions (`TEMPLATE#<id>/VERSION#<n>`) and their paging
 * index (`TEMPLATES`), in the audience table: the only writer of those items. One writer per item:
 * a template and its versions are written only by the API of its home region (the region that
 * created it), so two regions can never write two different contents as the same version, which
 * last-writer-wins replication would settle by silently replacing one. A campaign copies the
 * version's content when it is created, so nothing done to a template reaches a campaign.
 */
export class TemplateStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async create(template: Template, content: TemplateContent): Promise<TemplateVersion> {
    const version = versionOf(template, 1, content);
    await createIndexed(
      this.db,
      this.table,
      { key: templateKey(template.id), item: { type: "template", ...template } },
      { key: templateIndexKey(template.createdAt, template.id), type: "template-index", id: template.id },
      [{ key: templateVersionKey(template.id, 1), item: { type: "template-version", ...version } }],
    );
    return version;
  }

  async get(id: string, consistent = false): Promise<Template | undefined> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: templateKey(id), ConsistentRead: consistent }),
    );
    return out.Item ? toTemplate(out.Item) : undefined;
  }

  async version(id: string, version: number, consistent = false): Promise<TemplateVersion | undefined> {
    const out = await this.db.send(
      new GetCommand({
        TableName: this.table,
        Key: templateVersionKey(id, version),
        ConsistentRead: consistent,
      }),
    );
    return out.Item ? toVersion(out.Item) : undefined;
  }

  /** Templates, newest first. */
  page(limit: number, cursor?: string): Promise<Page<Template>> {
    return pageIndexed(this.db, this.table, TEMPLATES_PK, oneItem(templateKey, toTemplate), limit, cursor);
  }

  /**
   * Adds the next version (`template` as read, one more than its latest) with its name changed if
   * given; "conflict" when another version was added since the read.
   */
  async addVersion(
    template: Template,
    content: TemplateContent,
    name: string | undefined,
    now: string,
  ): Promise<TemplateVersion | "conflict"> {
    const version = versionOf(template, template.latestVersion + 1, content, now);
    try {
      await transactWrite(this.db, [
        {
          Update: {
            TableName: this.table,
            Key: templateKey(template.id),
            UpdateExpression: `SET latestVersion = :next, updatedAt = :now${name ? ", #name = :name" : ""}`,
            ConditionExpression: "latestVersion = :latest",
            ...(name ? { ExpressionAttributeNames: { "#name": "name" } } : {}),
            ExpressionAttributeValues: {
              ":next": version.version,
              ":latest": template.latestVersion,
              ":now": now,
              ...(name ? { ":name": name } : {}),
            },
          },
        },
        {
          Put: {
            TableName: this.table,
            Item: {
              ...templateVersionKey(template.id, version.version),
              type: "template-version",
              ...version,
            },
            ConditionExpression: "attribute_not_exists(pk)",
          },
        },
      ]);
      return version;
    } catch (error) {
      if (isCancelledByCondition(error)) return "conflict";
      throw error;
    }
  }
}

function versionOf(
  template: Template,
  version: number,
  content: TemplateContent,
  now = template.createdAt,
): TemplateVersion {
  return {
    templateId: template.id,
    version,
    subject: content.subject,
    html: content.html,
    ...(content.text ? { text: content.text } : {}),
    createdAt: now,
  };
}

function toTemplate(item: Record<string, unknown>): Template {
  return {
    id: item.id as string,
    name: item.name as string,
    homeRegion: item.homeRegion as string,
    latestVersion: Number(item.latestVersion),
    createdAt: item.createdAt as string,
    updatedAt: item.updatedAt as string,
  };
}

function toVersion(item: Record<string, unknown>): TemplateVersion {
  return {
    templateId: item.templateId as string,
    version: Number(item.version),
    subject: item.subject as string,
    html: item.html as string,
    ...(typeof item.text === "string" ? { text: item.text } : {}),
    createdAt: item.createdAt as string,
  };
}
