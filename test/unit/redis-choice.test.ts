/**
 * Where the target comes from (review defect 17): --redis, else SELLOUT_REDIS_URL, else REDIS_URL,
 * else the embedded server; a URL without a password takes SELLOUT_REDIS_PASSWORD, else
 * REDISCLI_AUTH. And a malformed % escape in a URL is one line that never quotes it (16a).
 */
import { describe, expect, it } from 'vitest';
import { chooseRedis, parseRedisUrl } from '../../src/redis/url.js';

const errorOf = (f: () => unknown): string => {
  try { f(); } catch (err) { return (err as Error).message; }
  return 'no error';
};

describe('chooseRedis', () => {
  it('takes --redis first, then SELLOUT_REDIS_URL, then REDIS_URL, else the embedded server', () => {
    const env = { SELLOUT_REDIS_URL: 'redis://a:1', REDIS_URL: 'redis://b:2' };
    expect(chooseRedis('redis://flag:3', env)).toEqual({ redis: 'redis://flag:3', origin: undefined });
    expect(chooseRedis(undefined, env)).toEqual({ redis: 'redis://a:1', origin: 'url from SELLOUT_REDIS_URL' });
    expect(chooseRedis(undefined, { REDIS_URL: 'redis://b:2' })).toEqual({ redis: 'redis://b:2', origin: 'url from REDIS_URL' });
    expect(chooseRedis(undefined, { SELLOUT_REDIS_URL: '', REDIS_URL: 'redis://b:2' }).origin).toBe('url from REDIS_URL');
    expect(chooseRedis(undefined, {})).toEqual({ redis: undefined, origin: undefined });
    expect(chooseRedis(undefined, { SELLOUT_REDIS_PASSWORD: 'pw' })).toEqual({ redis: undefined, origin: undefined });
    expect(chooseRedis(undefined, { SELLOUT_REDIS_URL: 'docker' })).toEqual({ redis: 'docker', origin: 'url from SELLOUT_REDIS_URL' });
  });

  it('puts a password from the environment into a URL that has none, whatever characters it holds', () => {
    const password = 'p%4@:/#?&= é';
    const choice = chooseRedis('redis://app@cache:6380/2', { SELLOUT_REDIS_PASSWORD: password, REDISCLI_AUTH: 'other' });
    expect(choice.origin).toBe('password from SELLOUT_REDIS_PASSWORD');
    expect(parseRedisUrl(choice.redis!)).toEqual({ host: 'cache', port: 6380, db: 2, tls: false, username: 'app', password });
    const cli = chooseRedis(undefined, { REDIS_URL: 'redis://127.0.0.1:7000', REDISCLI_AUTH: 'from-cli' });
    expect(cli.origin).toBe('url from REDIS_URL, password from REDISCLI_AUTH');
    expect(parseRedisUrl(cli.redis!)).toMatchObject({ host: '127.0.0.1', port: 7000, password: 'from-cli' });
  });

  it('keeps the password of the URL over the environment', () => {
    const choice = chooseRedis('redis://u:mine@h:1', { SELLOUT_REDIS_PASSWORD: 'env' });
    expect(choice).toEqual({ redis: 'redis://u:mine@h:1', origin: undefined });
  });

  it('names the variable a bad URL came from, without quoting it', () => {
    const message = errorOf(() => chooseRedis(undefined, { REDIS_URL: 'http://u:hunter2@h:1' }));
    expect(message).toBe('REDIS_URL: expected a redis:// or rediss:// URL, got scheme "http:"');
  });
});

describe('a malformed % escape in a URL', () => {
  it('is one line naming the part, never quoting the password', () => {
    const message = errorOf(() => parseRedisUrl('redis://u:%zzhunter2@127.0.0.1:6379'));
    expect(message).toBe('--redis: expected a percent-encoded password (% followed by two hex digits, like %40 for @), got a malformed % escape in the password (not shown)');
    expect(errorOf(() => parseRedisUrl('redis://%E0%A4%A@h:1', 'SELLOUT_REDIS_URL'))).toMatch(/^SELLOUT_REDIS_URL: expected a percent-encoded user name .* \(not shown\)$/);
  });
});
