/** The pure parts of `sellout serve`: the body check, the error mapping, the reply-to-outcome mapping and the key templates. */
import { ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { DEFAULT_KEY_TEMPLATES } from '../../src/keys.js';
import { outcomeOfReply } from '../../src/serve/outcome.js';
import { errorResponse, parseDeductBody, stockResponse } from '../../src/serve/service.js';
import { serveKeys } from '../../src/cli/commands/serve.js';

describe('parseDeductBody', () => {
  it('takes a string or numeric SKU and passes the quantity on as text', () => {
    expect(parseDeductBody('{"sku": "10010", "quantity": 1, "requestId": "DEC-1-42"}')).toEqual({ sku: '10010', quantity: '1', requestId: 'DEC-1-42' });
    expect(parseDeductBody('{"sku": 10010, "quantity": "-5", "requestId": "x", "extra": true}')).toEqual({ sku: '10010', quantity: '-5', requestId: 'x' });
    expect(parseDeductBody('{"sku": "a", "quantity": 1.5, "requestId": "x"}')).toEqual({ sku: 'a', quantity: '1.5', requestId: 'x' });
  });

  it('says what is wrong otherwise', () => {
    expect(parseDeductBody('nope')).toMatch(/^the body is not JSON/);
    expect(parseDeductBody('null')).toMatch(/^expected a JSON object/);
    expect(parseDeductBody('{"sku": 1.5, "quantity": 1, "requestId": "x"}')).toMatch(/^sku: expected/);
    expect(parseDeductBody('{"sku": "a{b}", "quantity": 1, "requestId": "x"}')).toMatch(/^sku: expected/);
    expect(parseDeductBody('{"sku": "a", "quantity": true, "requestId": "x"}')).toBe('quantity: expected a number, got true');
  });
});

describe('errorResponse', () => {
  const reply = (message: string) => errorResponse(new ReplyError(message));
  it('the script\'s errors by their code, Redis busy or gone 503, anything else 500 with its first line', () => {
    expect(reply('OPERATION_ALREADY_EXECUTED')).toEqual({ status: 409, body: { error: 'OPERATION_ALREADY_EXECUTED' } });
    expect(reply('ERR Error running script (call to f_x): INVENTORY_NOT_ENOUGH')).toEqual({ status: 410, body: { error: 'INVENTORY_NOT_ENOUGH' } });
    expect(reply('KEY_NOT_FOUND')).toEqual({ status: 404, body: { error: 'KEY_NOT_FOUND' } });
    expect(reply('INVALID_QUANTITY')).toEqual({ status: 400, body: { error: 'INVALID_QUANTITY' } });
    expect(reply('LOADING Redis is loading the dataset in memory').status).toBe(503);
    expect(reply('BUSY Redis is busy running a script').status).toBe(503);
    expect(reply('STOCK_OUT_OF_RANGE\nmore')).toEqual({ status: 500, body: { error: 'STOCK_OUT_OF_RANGE' } });
    expect(errorResponse(new Error('Connection is closed.'))).toMatchObject({ status: 503, body: { error: 'REDIS_UNAVAILABLE' } });
    expect(errorResponse(new Error('Command timed out'))).toMatchObject({ status: 503 });
    expect(errorResponse(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toMatchObject({ status: 503 });
    expect(errorResponse(new TypeError('x is not a function'))).toEqual({ status: 500, body: { error: 'x is not a function' } });
  });

  it('a reply that is not an integer is a 500', () => {
    expect(stockResponse(41)).toEqual({ status: 200, body: { stock: 41 } });
    expect(stockResponse('41')).toEqual({ status: 200, body: { stock: 41 } });
    expect(stockResponse('OK').status).toBe(500);
  });
});

describe('outcomeOfReply', () => {
  it('maps the table, telling KEY_NOT_FOUND from a wrong path by the body', () => {
    expect([200, 409, 410, 400, 503, 500, 413].map((s) => outcomeOfReply(s, '{}'))).toEqual(['ok', 'duplicate', 'sold_out', 'invalid', 'error', 'error', 'error']);
    expect(outcomeOfReply(404, '{"error":"KEY_NOT_FOUND"}')).toBe('not_found');
    expect(outcomeOfReply(404, '{"error":"NOT_FOUND"}')).toBe('error');
  });
});

describe('serveKeys', () => {
  const all = { stock: true, journal: true };
  it('fills <run> from --run-id and <sku> per request', () => {
    const keys = serveKeys(DEFAULT_KEY_TEMPLATES, 'r1', { stock: false, journal: false });
    expect([keys.stock('10010'), keys.journal('10010')]).toEqual(['sellout:r1:inv:{10010}', 'sellout:r1:journal:{10010}']);
    const own = serveKeys({ stock: 'clc:inventory:<sku>', journal: 'clc:inventory:stream:<sku>' }, undefined, all);
    expect(own.stock('7')).toBe('clc:inventory:7');
  });

  it('refuses <run> without --run-id, a template without <sku>, an unknown placeholder, one key for both', () => {
    expect(() => serveKeys(DEFAULT_KEY_TEMPLATES, undefined, { stock: false, journal: false })).toThrow(/^--keys-stock sellout:<run>:inv:\{<sku>\} \(the default\): expected --run-id ID/);
    expect(() => serveKeys({ stock: 'a:{<sku>}', journal: 'j:<run>:{<sku>}' }, undefined, all)).toThrow(/^--keys-journal j:<run>:\{<sku>\}: expected --run-id/);
    expect(() => serveKeys({ stock: 'a', journal: 'j:{<sku>}' }, undefined, all)).toThrow(/with <sku> in it/);
    expect(() => serveKeys({ stock: 'a:<id>:<sku>', journal: 'j:{<sku>}' }, undefined, all)).toThrow(/only the placeholders <run> and <sku>, got <id>/);
    expect(() => serveKeys({ stock: 'a:<sku>', journal: 'a:<sku>' }, undefined, all)).toThrow(UsageError);
    expect(() => serveKeys(DEFAULT_KEY_TEMPLATES, 'a b', all)).toThrow(/^--run-id a b: expected/);
  });
});
