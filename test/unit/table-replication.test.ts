import { describe, expect, it } from "vitest";
import type { WireItem } from "../../local/dynamodb-wire.ts";
import {
  type ChangeRecord,
  type Replica,
  ReplicationClock,
  type ReplicationSettings,
  sameItem,
  TableReplication,
} from "../../local/table-replication.ts";

/**
 * The replication rules on in-memory replicas that stream like DynamoDB: a record per write that
 * changes the item, none for a write that changes nothing, in commit order.
 */
class FakeReplica implements Replica {
  readonly items = new Map<string, WireItem>();
  private log: ChangeRecord[] = [];
  replicatedWrites = 0;
  /** Runs just before a replicated write lands (to commit a local write in that instant). */
  beforeWrite?: () => void;

  constructor(readonly region: string) {}

  /** A write of the region's own application. */
  local(keys: WireItem, image: WireItem | undefined): void {
    const id = JSON.stringify(keys);
    if (sameItem(this.items.get(id), image)) return;
    if (image) this.items.set(id, image);
    else this.items.delete(id);
    this.log.push(image ? { keys, newImage: image } : { keys });
  }

  get(keys: WireItem): WireItem | undefined {
    return this.items.get(JSON.stringify(keys));
  }

  async readChanges(): Promise<ChangeRecord[]> {
    return this.log.splice(0);
  }

  async write(keys: WireItem, image: WireItem | undefined): Promise<WireItem | undefined> {
    this.beforeWrite?.();
    this.beforeWrite = undefined;
    this.replicatedWrites++;
    const replaced = this.get(keys);
    this.local(keys, image);
    return replaced;
  }
}

const key = (id: string): WireItem => ({ pk: { S: id }, sk: { S: "item" } });
const item = (id: string, value: string): WireItem => ({ ...key(id), value: { S: value } });

/** Two replicas, a and b, or three with c (`third`). */
function setup(lagMs = 1000, third = false) {
  let now = 1_000_000;
  const settings: { current: ReplicationSettings } = { current: { lagMs, down: false } };
  const a = new FakeReplica("us-east-1");
  const b = new FakeReplica("us-west-2");
  const c = new FakeReplica("eu-west-1");
  const replicas = third ? [a, b, c] : [a, b];
  const table = new TableReplication("t", replicas, () => settings.current, new ReplicationClock(() => now));
  const pumpAll = async () => {
    for (let i = 0; i < 3; i++) for (const replica of replicas) await table.pump(replica.region);
  };
  return {
    a,
    b,
    c,
    table,
    settings,
    pumpAll,
    advance: async (ms: number) => {
      now += ms;
      await pumpAll();
    },
  };
}

describe("global table replication", () => {
  it("delivers a write to the other replica once the lag has passed, not before", async () => {
    const { a, b, pumpAll, advance } = setup(1000);
    a.local(key("x"), item("x", "one"));
    await pumpAll();
    await advance(999);
    expect(b.get(key("x"))).toBeUndefined();
    await advance(1);
    expect(b.get(key("x"))).toEqual(item("x", "one"));
  });

  it("does not echo a replicated write back to where it came from", async () => {
    const { a, b, table, pumpAll, advance } = setup();
    a.local(key("x"), item("x", "one"));
    await pumpAll();
    await advance(1000);
    await advance(5000);
    expect(b.replicatedWrites).toBe(1);
    expect(a.replicatedWrites).toBe(0);
    expect(table.backlog()).toBe(0);
  });

  it("resolves concurrent writes by last writer wins, the whole item, in every replica", async () => {
    const { a, b, pumpAll, advance } = setup();
    a.local(key("x"), { ...item("x", "from a"), onlyA: { N: "1" } });
    await pumpAll();
    await advance(100);
    b.local(key("x"), item("x", "from b"));
    await pumpAll();
    await advance(5000);
    expect(a.get(key("x"))).toEqual(item("x", "from b"));
    expect(b.get(key("x"))).toEqual(item("x", "from b"));
  });

  it("replicates deletes, TTL expiries included, by last writer wins", async () => {
    const { a, b, pumpAll, advance } = setup();
    a.local(key("x"), item("x", "one"));
    a.local(key("y"), item("y", "one"));
    await pumpAll();
    await advance(1001);
    expect(b.get(key("y"))).toEqual(item("y", "one"));
    a.local(key("x"), undefined);
    b.local(key("y"), undefined); // an expiry in b
    await pumpAll();
    await advance(1001);
    expect([a.get(key("x")), b.get(key("x")), a.get(key("y")), b.get(key("y"))]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it("holds writes in their region while down, then replicates them last writer winning", async () => {
    const { a, b, settings, pumpAll, advance } = setup();
    settings.current = { lagMs: 1000, down: true };
    b.local(key("x"), item("x", "older, from b"));
    await pumpAll();
    await advance(50);
    a.local(key("x"), item("x", "later, from a"));
    a.local(key("y"), item("y", "only in a"));
    await pumpAll();
    await advance(60_000);
    expect(b.get(key("x"))).toEqual(item("x", "older, from b"));
    expect(b.get(key("y"))).toBeUndefined();
    settings.current = { lagMs: 1000, down: false };
    await advance(0);
    expect(a.get(key("x"))).toEqual(item("x", "later, from a"));
    expect(b.get(key("x"))).toEqual(item("x", "later, from a"));
    expect(b.get(key("y"))).toEqual(item("y", "only in a"));
  });

  it("cuts a region that is down off both ways while the others replicate, then catches it up both ways", async () => {
    const { a, b, c, table, settings, pumpAll, advance } = setup(1000, true);
    const isolated = (regions: string[]) => ({ lagMs: 1000, down: false, isolated: new Set(regions) });
    // c committed these just before it went down; they have not replicated yet.
    c.local(key("shared"), item("shared", "older, from c"));
    c.local(key("from-c"), item("from-c", "c"));
    await pumpAll();
    settings.current = isolated([c.region]);
    await advance(50);
    a.local(key("shared"), item("shared", "later, from a"));
    a.local(key("from-a"), item("from-a", "a"));
    await pumpAll();
    await advance(60_000);
    // a and b replicate between themselves; nothing reaches c or leaves it.
    expect(b.get(key("from-a"))).toEqual(item("from-a", "a"));
    expect(b.get(key("shared"))).toEqual(item("shared", "later, from a"));
    expect(c.get(key("from-a"))).toBeUndefined();
    expect(c.get(key("shared"))).toEqual(item("shared", "older, from c"));
    expect(a.get(key("from-c"))).toBeUndefined();
    expect(b.get(key("from-c"))).toBeUndefined();
    expect(c.replicatedWrites).toBe(0);
    // Nothing is due while the held deliveries wait: the loops may sleep.
    expect(table.nextDueIn(c.region)).toBeUndefined();
    expect(table.nextDueIn(a.region)).toBeUndefined();

    settings.current = isolated([]);
    await advance(0);
    for (const replica of [a, b, c]) {
      expect(replica.get(key("shared"))).toEqual(item("shared", "later, from a"));
      expect(replica.get(key("from-a"))).toEqual(item("from-a", "a"));
      expect(replica.get(key("from-c"))).toEqual(item("from-c", "c"));
    }
    expect(table.backlog()).toBe(0);
  });

  it("puts back a local write that a delivery overwrote in the instant after it was committed", async () => {
    const { a, b, pumpAll, advance } = setup();
    a.local(key("x"), item("x", "from a"));
    await pumpAll();
    // b's own write lands after the replicator last read b's stream and before a's write arrives.
    b.beforeWrite = () => b.local(key("x"), item("x", "from b, later"));
    await advance(1000);
    await advance(1000);
    expect(b.get(key("x"))).toEqual(item("x", "from b, later"));
    expect(a.get(key("x"))).toEqual(item("x", "from b, later"));
    await advance(5000);
    expect(a.get(key("x"))).toEqual(item("x", "from b, later"));
  });

  it("compares items as DynamoDB does: map keys and set members in any order", () => {
    expect(sameItem({ a: { S: "1" }, s: { SS: ["x", "y"] } }, { s: { SS: ["y", "x"] }, a: { S: "1" } })).toBe(
      true,
    );
    expect(sameItem({ l: { L: [{ S: "x" }, { S: "y" }] } }, { l: { L: [{ S: "y" }, { S: "x" }] } })).toBe(
      false,
    );
    expect(sameItem(undefined, undefined)).toBe(true);
    expect(sameItem(undefined, { a: { S: "1" } })).toBe(false);
  });
});
