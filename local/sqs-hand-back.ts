import http from "node:http";

/**
 * Makes the messages of a ReceiveMessage answer visible again (ChangeMessageVisibilityBatch with a
 * timeout of 0), sent straight to the SQS emulator with the receive's own headers (AWS JSON 1.0, as
 * the SDK speaks it; the emulator reads the region and account from them).
 */
export async function handBackReceived(
  target: string,
  headers: http.OutgoingHttpHeaders,
  request: Buffer,
  reply: Buffer,
): Promise<void> {
  const { QueueUrl } = JSON.parse(request.toString("utf8")) as { QueueUrl?: string };
  const { Messages = [] } = JSON.parse(reply.toString("utf8")) as { Messages?: { ReceiptHandle?: string }[] };
  const receipts = Messages.flatMap((m) => (m.ReceiptHandle ? [m.ReceiptHandle] : []));
  if (!QueueUrl || receipts.length === 0) return;
  const body = JSON.stringify({
    QueueUrl,
    Entries: receipts.map((ReceiptHandle, i) => ({ Id: String(i), ReceiptHandle, VisibilityTimeout: 0 })),
  });
  const url = new URL(target);
  const { "transfer-encoding": _chunked, ...receiveHeaders } = headers;
  await new Promise<void>((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method: "POST",
        path: "/",
        headers: {
          ...receiveHeaders,
          "x-amz-target": "AmazonSQS.ChangeMessageVisibilityBatch",
          "content-type": "application/x-amz-json-1.0",
          "content-length": String(Buffer.byteLength(body)),
        },
      },
      (res) => {
        res.resume();
        res.once("end", () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`SQS answered ${res.statusCode}`)),
        );
      },
    );
    req.once("error", reject);
    req.end(body);
  });
}
