/**
 * Double opt-in: a list may ask every new subscriber to confirm by email before it mails them, and
 * every subscription keeps how it was obtained (its consent).
 */
export const OPT_IN_MODES = ["single", "double"] as const;
export type OptIn = (typeof OPT_IN_MODES)[number];

/** The tag that renders a confirmation email's link; only confirmation emails have it. */
export const CONFIRM_TAG = "confirmUrl";

/** A list's confirmation email as it is now, and each version kept for the consent records. */
export interface ConfirmationEmail {
  readonly version: number;
  readonly subject: string;
  readonly html: string;
  readonly text?: string;
  /** How long a confirmation link works after it is mailed. */
  readonly expiresInHours: number;
}

const DEFAULT_CONFIRMATION: Omit<ConfirmationEmail, "version"> = {
  subject: "Please confirm your subscription",
  html: '<p>Please confirm that you want to receive our emails.</p><p><a href="{{confirmUrl}}">Yes, subscribe me</a></p><p>If you did not ask for this, ignore this email: you will not hear from us again.</p>',
  text: "Please confirm that you want to receive our emails: {{confirmUrl}}\n\nIf you did not ask for this, ignore this email: you will not hear from us again.",
  expiresInHours: 7 * 24,
};

/** Versions of a list's confirmation email kept beside the current one (a link expires in days). */
export const CONFIRMATION_HISTORY = 10;

/** The shortest time between two confirmation emails to one address of one list. */
export const RESEND_INTERVAL_MS = 10 * 60_000;

/** Recipients per confirmation send (one system campaign each). */
export const CONFIRMATIONS_PER_SEND = 100;

/** How a subscription was obtained (proof of consent). */
export interface Consent {
  readonly source: "api" | "import" | "double-opt-in";
  readonly at: string;
  /** The API key that added the subscriber (`api`), or that started the import (`import`). */
  readonly by?: string;
  /** The import job (`import`). */
  readonly importId?: string;
  /** Double opt-in: the confirming request's address and user agent. */
  readonly ip?: string;
  readonly userAgent?: string;
  /** Double opt-in: the confirmation email the person confirmed, as it read. */
  readonly confirmation?: { readonly version: number; readonly subject: string; readonly text: string };
  /** Double opt-in: how the pending subscription was asked for, before the person confirmed. */
  readonly requested?: Consent;
}

/** A list's confirmation email after `changes`: one version up, unchanged parts kept (or defaulted). */
export function nextConfirmation(
  current: ConfirmationEmail | undefined,
  changes: Partial<Omit<ConfirmationEmail, "version">>,
): ConfirmationEmail {
  const base = current ?? { ...DEFAULT_CONFIRMATION, version: 0 };
  const text = changes.text ?? base.text;
  return {
    version: base.version + 1,
    subject: changes.subject ?? base.subject,
    html: changes.html ?? base.html,
    ...(text !== undefined ? { text } : {}),
    expiresInHours: changes.expiresInHours ?? base.expiresInHours,
  };
}
