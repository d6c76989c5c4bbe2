import { randomUUID } from "node:crypto";
import http from "node:http";
import { LOCAL_ACCOUNT } from "./local-account.ts";

/**
 * The one Secrets Manager call the functions make, `GetSecretValue`, answered on loopback for the
 * secrets the templates define (AWS JSON 1.1 protocol).
 */
export async function serveSecrets(secrets: ReadonlyMap<string, string>, port: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const target = String(req.headers["x-amz-target"] ?? "");
      let secretId = "";
      try {
        secretId = String(
          (JSON.parse(Buffer.concat(chunks).toString("utf8")) as { SecretId?: string }).SecretId ?? "",
        );
      } catch {
        // handled below as not found
      }
      const value = secrets.get(secretId);
      res.setHeader("content-type", "application/x-amz-json-1.1");
      if (target !== "secretsmanager.GetSecretValue" || value === undefined) {
        res.writeHead(400, { "x-amzn-errortype": "ResourceNotFoundException" });
        res.end(
          JSON.stringify({
            __type: "ResourceNotFoundException",
            message: "Secrets Manager can't find the specified secret.",
          }),
        );
        return;
      }
      res.writeHead(200);
      res.end(
        JSON.stringify({
          ARN: `arn:aws:secretsmanager:local:${LOCAL_ACCOUNT}:secret:${secretId}`,
          Name: secretId,
          SecretString: value,
          VersionId: randomUUID(),
          VersionStages: ["AWSCURRENT"],
          CreatedDate: Date.now() / 1000,
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", () => resolve()));
  return server;
}
