import type { WireItem } from "./dynamodb-wire.ts";

/**
 * Replication of one global table between its replicas, as DynamoDB global tables do it in their
 * default mode (multi-region eventual consistency): every write lands in its own region's replica
 * and reaches the others asynchronously, item by item; two writes to one item are resolved by last
 * writer wins, per whole item. This is the logic; `ReplicaStream` reads and writes a real replica
 * and `Replication` runs it.
 *
 * - **Write time.** A change is stamped when the replicator reads it from its replica's stream (DynamoDB
 *   Local's ApproximateCreationDateTime is rounded down to the minute), from one clock for every
 *   replica that never goes backwards and never gives the same stamp twice. A write is read right
 *   after it is made (the region's DynamoDB proxy says so), so the stamps order writes as they were
 *   committed, to within a few milliseconds.
 * - **Lag.** A change reaches another replica once its stamp is `lagMs` old (never before), at the
 *   next pump of that replica. While replication is down nothing is delivered; changes keep their
 *   stamps and are delivered, last writer winning, when it comes back. A region that is down on its
 *   own (`isolated`) holds only its links: nothing is delivered to its replica or from it, while
 *   the other replicas go on replicating between themselves.
 * - **Last writer wins.** A delivery replaces (or deletes) the whole item, unless the replica already
 *   holds a later version of it. Versions compare by stamp, then by region name (the later name wins).
 * - **No echo.** A replicated write shows in its target's stream like any write. The replicator
 *   remembers the image each replicated write put there (only writes that changed the item: DynamoDB
 *   streams no record for a write that changes nothing) and takes the first record of that item with
 *   that image for its own.
 * - **A local write overwritten in the instant before a delivery** (committed after the replicator
 *   last read that stream, before the delivery landed) is put back as soon as its record is read: it
 *   is the later writer. For that instant the replica showed the earlier item.
 */

export interface ChangeRecord {
  readonly keys: WireItem;
  /** The item after the change; absent for a delete (a TTL expiry included). */
  readonly newImage?: WireItem;
}

/** One region's replica of the table, as the replication reads and writes it. */
export interface Replica {
  readonly region: string;
  /** The changes written since the last call, in stream order. */
  readChanges(): Promise<ChangeRecord[]>;
  /** Replaces the whole item (or, without an image, deletes it); resolves with the item it replaced. */
  write(keys: WireItem, image: WireItem | undefined): Promise<WireItem | undefined>;
}

export interface ReplicationSettings {
  readonly lagMs: number;
  readonly down: boolean;
  /** Regions down on their own: their replicas neither receive nor send changes. */
  readonly isolated?: ReadonlySet<string>;
}

interface Version {
  readonly time: number;
  readonly region: string;
}

interface Expected {
  readonly image: WireItem | undefined;
  /**
   * The target's own write that was read before this replicated write's record: committed just
   * before it, so overwritten by it, though it is the later writer.
   */
  overwrote?: Change;
}

interface Change {
  readonly version: Version;
  readonly image: WireItem | undefined;
}

interface ItemState {
  readonly keys: WireItem;
  /** Stamp of the item's last write, anywhere. */
  lastWrite: number;
  /** The version each replica holds, as far as the replication knows. */
  readonly held: Map<string, Version>;
  /** Replicated writes whose record has not been read yet, by target region, oldest first. */
  readonly echoes: Map<string, Expected[]>;
  /** Deliveries and repairs not made yet. */
  pending: number;
}

interface Delivery extends Change {
  readonly id: string;
}

/** A write the replication makes to a replica: a delivery, or a repair putting back its own write. */
interface Write extends Change {
  readonly repair: boolean;
}

/** Strictly increasing stamps in milliseconds, shared by every table's replication. */
export class ReplicationClock {
  private last = 0;
  constructor(private readonly now: () => number = Date.now) {}
  stamp(): number {
    this.last = Math.max(this.now(), this.last + 0.001);
    return this.last;
  }
  time(): number {
    return this.now();
  }
}

const isLater = (a: Version, b: Version | undefined): boolean =>
  !b || a.time > b.time || (a.time === b.time && a.region > b.region);

/** How often (at most) forgotten items are swept, and how old an idle item's last write must be. */
const SWEEP_EVERY_MS = 10_000;
const FORGET_AFTER_MS = 60_000;
/** Replicated writes in flight to one replica at once. */
const WRITE_CONCURRENCY = 8;

export class TableReplication {
  private readonly items = new Map<string, ItemState>();
  private readonly queues = new Map<string, Delivery[]>();
  private readonly repairs = new Map<string, Map<string, Change>>();
  private lastSweep = 0;

  constructor(
    readonly table: string,
    private readonly replicas: readonly Replica[],
    private readonly settings: () => ReplicationSettings,
    private readonly clock: ReplicationClock,
    /** Told of a write a replica refused or did not answer; it is tried again at the next pump. */
    private readonly onWriteError: (region: string, error: Error) => void = () => {},
  ) {
    for (const replica of replicas) {
      this.queues.set(replica.region, []);
      this.repairs.set(replica.region, new Map());
    }
  }

  /**
   * Reads a replica's new changes, then makes the deliveries due to it. Returns how many changes
   * it read, so that a busy stream is read again at once.
   */
  async pump(region: string): Promise<number> {
    const replica = this.replica(region);
    const changes = await replica.readChanges();
    for (const change of changes) this.observe(region, change, this.clock.stamp());
    await this.deliver(replica);
    this.sweep();
    return changes.length;
  }

  /** In how many ms the next delivery to a replica is due (0: now), if one is waiting and replication is up. */
  nextDueIn(region: string): number | undefined {
    const { lagMs, down, isolated } = this.settings();
    if (isolated?.has(region)) return undefined;
    if ((this.repairs.get(region)?.size ?? 0) > 0) return 0;
    if (down) return undefined;
    const head = this.queues.get(region)?.find((d) => !isolated?.has(d.version.region));
    if (!head) return undefined;
    return Math.max(0, head.version.time + lagMs - this.clock.time());
  }

  /** Deliveries and repairs not made yet, to every replica. */
  backlog(): number {
    let n = 0;
    for (const queue of this.queues.values()) n += queue.length;
    for (const repairs of this.repairs.values()) n += repairs.size;
    return n;
  }

  private replica(region: string): Replica {
    const found = this.replicas.find((r) => r.region === region);
    if (!found) throw new Error(`${this.table} has no replica in ${region}`);
    return found;
  }

  private observe(region: string, change: ChangeRecord, stamp: number): void {
    const id = keyId(change.keys);
    const state = this.state(id, change.keys);
    const expected = state.echoes.get(region) ?? [];
    const echo = expected.findIndex((e) => sameItem(e.image, change.newImage));
    if (echo >= 0) {
      const [own] = expected.splice(0, echo + 1).slice(-1);
      if (own?.overwrote) this.repair(region, id, state, own.overwrote);
      return;
    }
    // A write made in this region.
    const version = { time: stamp, region };
    const local = { version, image: change.newImage };
    for (const e of expected) e.overwrote = local;
    state.lastWrite = stamp;
    state.held.set(region, version);
    for (const other of this.replicas) {
      if (other.region === region) continue;
      this.queues.get(other.region)?.push({ id, ...local });
      state.pending++;
    }
  }

  private state(id: string, keys: WireItem): ItemState {
    let state = this.items.get(id);
    if (!state) {
      state = { keys, lastWrite: 0, held: new Map(), echoes: new Map(), pending: 0 };
      this.items.set(id, state);
    }
    return state;
  }

  private repair(region: string, id: string, state: ItemState, change: Change): void {
    const repairs = this.repairs.get(region);
    const previous = repairs?.get(id);
    if (!repairs || (previous && isLater(previous.version, change.version))) return;
    if (!previous) state.pending++;
    repairs.set(id, change);
  }

  private async deliver(replica: Replica): Promise<void> {
    const { region } = replica;
    const { lagMs, down, isolated } = this.settings();
    // A replica whose region is down is out of reach: its repairs and deliveries wait.
    if (isolated?.has(region)) return;
    const queue = this.queues.get(region) ?? [];
    const repairs = this.repairs.get(region) ?? new Map<string, Change>();
    const now = this.clock.time();
    // Repairs (this replica's own later writes to put back) and the deliveries that are due; of
    // several writes to one item only the latest is made.
    const writes = new Map<string, Write>();
    const consider = (id: string, write: Write) => {
      const other = writes.get(id);
      const state = this.items.get(id) as ItemState;
      if (other && isLater(other.version, write.version)) state.pending--;
      else {
        if (other) state.pending--;
        writes.set(id, write);
      }
    };
    for (const [id, change] of repairs) consider(id, { ...change, repair: true });
    repairs.clear();
    // The queue is in stamp order: the due deliveries are a prefix of it, less those from a region
    // that is down, which keep their place.
    let due = 0;
    while (!down && due < queue.length && (queue[due] as Delivery).version.time + lagMs <= now) due++;
    const held: Delivery[] = [];
    for (const delivery of queue.splice(0, due)) {
      const { id, ...change } = delivery;
      if (isolated?.has(change.version.region)) held.push(delivery);
      else consider(id, { ...change, repair: false });
    }
    queue.unshift(...held);

    const work = [...writes];
    const failed: Delivery[] = [];
    const next = async (): Promise<void> => {
      for (let item = work.pop(); item; item = work.pop()) {
        const [id, write] = item;
        const state = this.items.get(id) as ItemState;
        try {
          await this.write(replica, state, write);
        } catch (error) {
          this.onWriteError(region, error as Error);
          if (write.repair) repairs.set(id, write);
          else failed.push({ id, version: write.version, image: write.image });
          continue;
        }
        state.pending--;
      }
    };
    await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, work.length) }, next));
    if (failed.length > 0) {
      // Back in stamp order, among the deliveries held meanwhile.
      queue.unshift(...failed);
      queue.sort((a, b) => a.version.time - b.version.time);
    }
  }

  private async write(replica: Replica, state: ItemState, write: Write): Promise<void> {
    const { region } = replica;
    const held = state.held.get(region);
    // A delivery needs to be later than what the replica holds; a repair puts back what it holds.
    if (write.repair ? held && isLater(held, write.version) : !isLater(write.version, held)) return;
    const replaced = await replica.write(state.keys, write.image);
    state.held.set(region, write.version);
    if (!sameItem(replaced, write.image)) {
      const expected = state.echoes.get(region) ?? [];
      expected.push({ image: write.image });
      state.echoes.set(region, expected);
    }
  }

  /** Forgets items nothing is pending for whose last write is long past: their next write is later. */
  private sweep(): void {
    const now = this.clock.time();
    if (now - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = now;
    for (const [id, state] of this.items) {
      if (state.pending > 0 || now - state.lastWrite < FORGET_AFTER_MS) continue;
      if ([...state.echoes.values()].some((e) => e.length > 0)) continue;
      this.items.delete(id);
    }
  }
}

/** An item's identity: its keys, as canonical JSON. */
function keyId(keys: WireItem): string {
  return canonical(keys);
}

/** Two items (or two absences) equal as DynamoDB compares them: map keys and set members in any order. */
export function sameItem(a: WireItem | undefined, b: WireItem | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return canonical(a) === canonical(b);
}

const SETS = new Set(["SS", "NS", "BS"]);

function canonical(value: unknown, type?: string): string {
  if (Array.isArray(value)) {
    const members = value.map((v) => canonical(v));
    if (type && SETS.has(type)) members.sort();
    return `[${members.join(",")}]`;
  }
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v, k)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
