/**
 * The ledger table's global secondary indexes: the data stack declares them, LedgerStore queries
 * them, and the functions that bind the ledger are granted exactly these (never `index/*`).
 */
export const LEDGER_INDEX = {
  /** SES feedback events name only the SES message id. */
  bySesMessageId: "bySesMessageId",
  /** Erasure finds a person's ledger items by address (keys only). */
  byRecipient: "byRecipient",
} as const;

export const LEDGER_INDEXES: readonly string[] = Object.values(LEDGER_INDEX);
