/**
 * The scenario's `http:` section: sellout loads the sale service the way shoppers do, one HTTP
 * request per deduction, and reads the same invariants back from the service's Redis. Without
 * `url` sellout starts its reference service (src/serve/) on the run's Redis.
 */
import { z } from 'zod';
import { OUTCOMES, type Outcome } from '../outcomes.js';

/** The reference service's statuses (README "HTTP mode"): what a scenario's `outcomes` defaults to. */
export const REFERENCE_OUTCOMES: Readonly<Record<string, Outcome>> = { 200: 'ok', 409: 'duplicate', 410: 'sold_out', 404: 'not_found', 400: 'invalid' };
export const DEFAULT_BODY = '{"sku": "<sku>", "quantity": <quantity>, "requestId": "<id>"}';
/** Placeholders a body template may hold: the SKU (its number), the quantity and the request ID. */
export const BODY_PLACEHOLDERS = ['<sku>', '<quantity>', '<id>'] as const;

const outcomeName = z.enum(OUTCOMES, { error: `one of ${OUTCOMES.join(', ')}` });

export const httpSchema = z.strictObject({
  url: z
    .string({ error: 'an http:// or https:// URL like http://127.0.0.1:8080/deduct' })
    .refine((u) => { try { return ['http:', 'https:'].includes(new URL(u).protocol); } catch { return false; } }, { error: 'an http:// or https:// URL like http://127.0.0.1:8080/deduct' })
    .optional(),
  method: z.enum(['POST', 'PUT', 'PATCH', 'GET'], { error: 'one of POST, PUT, PATCH, GET' }).default('POST'),
  headers: z.record(z.string(), z.string({ error: 'a header value (a string)' }), { error: 'a mapping of header names to values' }).default({ 'content-type': 'application/json' }),
  body: z
    .string({ error: `a body template with <id> in it, like '${DEFAULT_BODY}'` })
    .superRefine((body, ctx) => {
      // Every request needs its own ID: without it a retry is indistinguishable from a new order.
      if (!body.includes('<id>')) ctx.addIssue({ code: 'custom', message: `a body template with <id> in it (each request's ID), like '${DEFAULT_BODY}'`, input: body });
      const unknown = [...body.matchAll(/<[a-z_]+>/g)].map((m) => m[0]).filter((p) => !(BODY_PLACEHOLDERS as readonly string[]).includes(p));
      if (unknown.length > 0) ctx.addIssue({ code: 'custom', message: `only the placeholders ${BODY_PLACEHOLDERS.join(', ')}, not ${[...new Set(unknown)].join(', ')}`, input: body });
    })
    .default(DEFAULT_BODY),
  outcomes: z
    .record(z.string().regex(/^[1-5][0-9][0-9]$/, { error: 'an HTTP status code from 100 to 599' }), outcomeName, {
      error: (issue) => (issue.code === 'invalid_key' ? 'an HTTP status code from 100 to 599' : 'a mapping of HTTP status codes to outcomes, like {200: ok, 409: duplicate}'),
    })
    .optional(),
  /** Where a 200's JSON body carries the new stock (no-lost-ack checks it); absent with a url: not checked. */
  stockField: z.string({ error: 'the name of a JSON field, like stock' }).regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'the name of a JSON field, like stock' }).optional(),
});
export type HttpConfig = z.infer<typeof httpSchema>;

/** What the load needs of an `http:` section once the service's URL is known. */
export interface HttpTarget {
  readonly url: string;
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** Status -> outcome; a status not in it is an `error` outcome. */
  readonly outcomes: Readonly<Record<string, Outcome>>;
  readonly stockField: string | undefined;
  /** Started by sellout (the reference service): its outcomes and stock field are the defaults. */
  readonly reference: boolean;
}

export function httpTarget(config: HttpConfig, url: string, reference: boolean): HttpTarget {
  return {
    url,
    method: config.method,
    headers: config.headers,
    body: config.body,
    outcomes: config.outcomes ?? REFERENCE_OUTCOMES,
    stockField: config.stockField ?? (reference || config.url === undefined ? 'stock' : undefined),
    reference,
  };
}
