/**
 * The inputs `sellout audit` feeds a deduction script, one bad input per case, everything else
 * ordinary. Each case gets its own stock and journal (fresh keys), so one case's damage cannot
 * change what the next one sees.
 *
 * Where a bad quantity could be read as a number by a lenient script (`1e3`, 2^53+1, 15 digits),
 * the stock is large enough to cover it: a script that accepts the quantity then deducts, and the
 * audit sees what it stored, instead of a sold-out reply hiding the acceptance.
 *
 * Request IDs are `DEC-audit-<case number>` (the shape of a run's `DEC-<seed>-<n>`), so the tables
 * of two audits compare line by line.
 */

export interface AuditCase {
  /** 1-based, the row of the table. */
  readonly number: number;
  /** Short and key-safe: the hash tag of the case's keys (`sellout:audit-<id>:inv:{<slug>}`). */
  readonly slug: string;
  /** What the table shows in its `case` column. */
  readonly name: string;
  /** One sentence: what the case checks. */
  readonly about: string;
  /** The stock the case starts from, or null for a missing stock key. */
  readonly stock: string | null;
  /** ARGV[1], exactly as sent. */
  readonly quantity: string;
  /** ARGV[2], exactly as sent. */
  readonly requestId: string;
  /** 2: the same call is sent again after the first one's reply (the same request ID twice). */
  readonly calls: 1 | 2;
}

/** 1 MiB: the request ID of the longest-ID case, in bytes. */
export const LONG_ID_BYTES = 1024 * 1024;

type CaseSpec = Omit<AuditCase, 'number' | 'requestId'> & { readonly requestId?: (number: number) => string };

const SPECS: readonly CaseSpec[] = [
  { slug: 'valid', name: 'valid: 3 of 10', about: 'control: an ordinary deduction must go through, be journaled, and reply the new stock', stock: '10', quantity: '3', calls: 1 },
  { slug: 'exact', name: 'exact: 10 of 10', about: 'control: the last units sell, down to 0', stock: '10', quantity: '10', calls: 1 },
  { slug: 'qty-negative', name: 'quantity -5', about: 'a negative quantity must not raise the stock', stock: '10', quantity: '-5', calls: 1 },
  { slug: 'qty-zero', name: 'quantity 0', about: 'a zero quantity must not journal (burn) the request ID', stock: '10', quantity: '0', calls: 1 },
  { slug: 'qty-fraction', name: 'quantity 0.5', about: 'a fractional quantity must not store a fractional stock', stock: '10', quantity: '0.5', calls: 1 },
  { slug: 'qty-exponent', name: 'quantity 1e3', about: 'exponent notation is not a quantity (the stock, 2000, covers it read as 1000)', stock: '2000', quantity: '1e3', calls: 1 },
  { slug: 'qty-space', name: 'quantity " 1"', about: 'a quantity with a leading space is not a positive integer', stock: '10', quantity: ' 1', calls: 1 },
  { slug: 'qty-empty', name: 'quantity ""', about: 'an empty quantity', stock: '10', quantity: '', calls: 1 },
  { slug: 'qty-nan', name: 'quantity nan', about: 'nan must not reach the stock (a script cannot roll back a SET)', stock: '10', quantity: 'nan', calls: 1 },
  { slug: 'qty-inf', name: 'quantity inf', about: 'an infinite quantity', stock: '10', quantity: 'inf', calls: 1 },
  { slug: 'qty-neg-inf', name: 'quantity -inf', about: 'a negative infinite quantity must not make the stock infinite', stock: '10', quantity: '-inf', calls: 1 },
  { slug: 'qty-2p53', name: 'quantity 2^53+1', about: 'quantity 9007199254740993 (not a double) against a stock of 9007199254740999 that covers it: no rounding', stock: '9007199254740999', quantity: '9007199254740993', calls: 1 },
  { slug: 'qty-15-digits', name: 'quantity of 15 digits', about: 'quantity 100000000000000 against a stock of 999999999999999 that covers it: no %.14g rounding', stock: '999999999999999', quantity: '100000000000000', calls: 1 },
  { slug: 'stock-missing', name: 'stock missing', about: 'a missing stock key must not be created', stock: null, quantity: '1', calls: 1 },
  { slug: 'stock-abc', name: 'stock "abc"', about: 'a stock that is not a number must be left alone', stock: 'abc', quantity: '1', calls: 1 },
  { slug: 'stock-fraction', name: 'stock 10.5', about: 'a fractional stock must not be deducted into another fraction', stock: '10.5', quantity: '1', calls: 1 },
  { slug: 'stock-15-digits', name: 'stock of 15 digits', about: 'stock 123456789012345: the stock written back must be exact, not %.14g', stock: '123456789012345', quantity: '1', calls: 1 },
  { slug: 'id-empty', name: 'request ID empty', about: 'an empty request ID: deducted and journaled under "", or refused', stock: '10', quantity: '1', calls: 1, requestId: () => '' },
  {
    slug: 'id-1mib', name: 'request ID of 1 MiB', about: 'a 1 MiB request ID: deducted and journaled under it, or refused', stock: '10', quantity: '1', calls: 1,
    requestId: (n) => `DEC-audit-${n}-`.padEnd(LONG_ID_BYTES, 'x'),
  },
  { slug: 'id-twice', name: 'same request ID twice', about: 'the second call with the same request ID must not deduct again', stock: '10', quantity: '1', calls: 2 },
  { slug: 'over-stock', name: 'quantity over stock: 3 of 2', about: 'a quantity larger than the stock must not deduct past zero', stock: '2', quantity: '3', calls: 1 },
];

export function auditCases(): AuditCase[] {
  return SPECS.map((spec, i) => {
    const number = i + 1;
    const { requestId, ...rest } = spec;
    return { ...rest, number, requestId: requestId ? requestId(number) : `DEC-audit-${number}` };
  });
}
