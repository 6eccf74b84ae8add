/** Slot hashing, the slot map from CLUSTER SLOTS, and the redirect replies, checked against what Redis says. */
import { describe, expect, it } from 'vitest';
import { keySlot } from '../../src/redis/slot.js';
import { topologyFromSlots } from '../../src/redis/topology.js';
import { redirectOf } from '../../src/load/error-replies.js';
import { TargetError } from '../../src/errors.js';

const SEED = { host: '10.0.0.1', port: 7001, db: 0, tls: false, password: 'pw' };

describe('keySlot', () => {
  it('matches CLUSTER KEYSLOT (values taken from redis-server 7.0)', () => {
    expect(keySlot('foo')).toBe(12182);
    expect(keySlot('123456789')).toBe(12739);
    expect(keySlot('sellout:r:inv:{7}')).toBe(1716);
  });
  it('hashes only a non-empty hash tag: a SKU\'s two keys share a slot', () => {
    expect(keySlot('sellout:r:inv:{7}')).toBe(keySlot('sellout:r:journal:{7}'));
    expect(keySlot('a{}b')).toBe(keySlot('a{}b'));
    expect(keySlot('a{}{7}')).not.toBe(keySlot('{7}'));
    expect(keySlot('x{7}y{8}')).toBe(keySlot('7'));
    expect(keySlot('clc:inventory:10010')).not.toBe(keySlot('clc:inventory:stream:10010'));
  });
});

describe('topologyFromSlots', () => {
  it('maps every slot to its primary, ignores replicas, and reaches nodes with the seed\'s credentials', () => {
    const t = topologyFromSlots([
      [5461, 10922, ['10.0.0.2', 7002, 'b'], ['10.0.0.5', 7005, 'e']],
      [0, 5460, ['', 7001, 'a']],
      [10923, 16383, ['10.0.0.3', 7003, 'c']],
    ], SEED);
    expect(t.cluster).toBe(true);
    expect(t.shards.map((s) => s.node)).toEqual(['10.0.0.1:7001', '10.0.0.2:7002', '10.0.0.3:7003']);
    expect(t.shards[1]!.endpoint).toMatchObject({ host: '10.0.0.2', port: 7002, password: 'pw', db: 0 });
    expect([t.slotOwner[0], t.slotOwner[5460], t.slotOwner[5461], t.slotOwner[16383]]).toEqual([0, 0, 1, 2]);
  });
  it('refuses a map with a slot nobody owns, naming the slots, in one line', () => {
    const make = () => topologyFromSlots([[0, 99, ['a', 1, 'x']], [120, 16383, ['b', 2, 'y']]], SEED);
    expect(make).toThrow(TargetError);
    expect(make).toThrow(/has no owner for slots 100-119$/);
  });
});

describe('redirectOf', () => {
  it('reads MOVED and ASK with their slot and node; TRYAGAIN and CLUSTERDOWN are retried', () => {
    expect(redirectOf('MOVED 3999 127.0.0.1:6381')).toEqual({ redirect: 'moved', slot: 3999, node: '127.0.0.1:6381' });
    expect(redirectOf('ASK 12 10.1.1.1:7000')).toEqual({ redirect: 'ask', slot: 12, node: '10.1.1.1:7000' });
    expect(redirectOf('TRYAGAIN Multiple keys request during rehashing of slot').redirect).toBe('tryagain');
    expect(redirectOf('CLUSTERDOWN The cluster is down').redirect).toBe('tryagain');
    expect(redirectOf('ERR MOVED nothing').redirect).toBeUndefined();
  });
});
