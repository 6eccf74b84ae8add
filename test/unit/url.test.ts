import { describe, expect, it } from 'vitest';
import { endpointUrl, parseRedisUrl, redactUrl } from '../../src/redis/url.js';

describe('redis URLs', () => {
  it('parses host, port, db, credentials and TLS', () => {
    expect(parseRedisUrl('redis://127.0.0.1:7000/2')).toEqual({ host: '127.0.0.1', port: 7000, db: 2, tls: false });
    expect(parseRedisUrl('rediss://app:s3cr%40t@cache.local')).toEqual({ host: 'cache.local', port: 6379, db: 0, tls: true, username: 'app', password: 's3cr@t' });
    expect(parseRedisUrl('redis://:pw@[::1]:6380')).toMatchObject({ host: '::1', port: 6380, password: 'pw' });
  });

  it('never shows a password', () => {
    const endpoint = parseRedisUrl('redis://app:hunter2@10.0.0.1:6379/1');
    expect(endpointUrl(endpoint)).toBe('redis://app:***@10.0.0.1:6379/1');
    expect(redactUrl('cannot reach redis://u:hunter2@h:1 or rediss://:pw@x:2')).toBe('cannot reach redis://u:***@h:1 or rediss://:***@x:2');
  });

  it('rejects other schemes and bad databases with one line that hides the password', () => {
    expect(() => parseRedisUrl('http://h:1')).toThrow('--redis: expected a redis:// or rediss:// URL, got scheme "http:"');
    expect(() => parseRedisUrl('redis://h:1/x')).toThrow(/expected a database number/);
    expect(() => parseRedisUrl('redis://u:hunter2@')).not.toThrow(/hunter2/);
    expect(() => parseRedisUrl('not a url :pw@')).toThrow(/^--redis: expected redis:\/\//);
  });

  it('never quotes a malformed URL, whose password may sit anywhere in it', () => {
    for (const url of ['redis:alice:SeCrEt8@127.0.0.1', 'redis://alice:Pa@ss/SecretTail@127.0.0.1:6390', 'redis://alice:p@ss/w#rd@127.0.0.1:1']) {
      let message = '';
      try { parseRedisUrl(url); } catch (err) { message = (err as Error).message; }
      expect(message, url).toMatch(/^--redis: expected /);
      expect(message, url).not.toMatch(/SeCrEt|Secret|Pa@ss|w#rd/);
    }
  });
});
