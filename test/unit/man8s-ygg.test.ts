import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bridgeAddress,
  canonicalYggaddr,
  containerYggaddr,
  formatIPv6,
  isIpLiteral,
  parseIPv6,
  subnetText,
  yggaddrProblem,
} from '../../src/man8s/ygg.js';

const RELINK = '200:7547:78fb:902a:9a09:9bff:f966:89a7';

/** The guide's `mbctl list` on relink, every row (seed/man8s-ctr-guide.zh.md). */
const MBCTL_LIST: Array<[string, string]> = [
  ['relink-pdns-auth', '300:7547:78fb:902a:4dcc:274f:f9fb:4569'],
  ['relink-pdns-ls', '300:7547:78fb:902a:e2c7:fe72:193d:1a9'],
  ['relink-pdns-recursor', '300:7547:78fb:902a:874a:2e22:fa0d:d5d7'],
  ['powerdns-admin', '300:7547:78fb:902a:d516:c2d8:6667:ea68'],
  ['relink-nginx', '300:7547:78fb:902a:c078:fb01:c413:a24c'],
  ['relink-pgsql', '300:7547:78fb:902a:979e:744a:c47e:4dfb'],
  ['nchat-element', '300:7547:78fb:902a:7f53:42ef:2c2b:cee9'],
  ['relink-redis', '300:7547:78fb:902a:cc32:b73c:a160:5bbc'],
  ['us-keycloak', '300:7547:78fb:902a:d4af:b89d:17f9:d986'],
  ['us-outline', '300:7547:78fb:902a:e210:e0e0:283c:f434'],
  ['us-gitea', '300:7547:78fb:902a:60e0:f5a0:1817:1156'],
];

describe('container ygg addresses', () => {
  it('match the known pairs of MAN8S-SPEC §2', () => {
    assert.equal(containerYggaddr(RELINK, 'relink-nginx'), '300:7547:78fb:902a:c078:fb01:c413:a24c');
    assert.equal(containerYggaddr(RELINK, 'relink-pgsql'), '300:7547:78fb:902a:979e:744a:c47e:4dfb');
    assert.equal(containerYggaddr(RELINK, 'us-gitea'), '300:7547:78fb:902a:60e0:f5a0:1817:1156');
  });

  for (const [name, address] of MBCTL_LIST) {
    it(`match mbctl list: ${name}`, () => assert.equal(containerYggaddr(RELINK, name), address));
  }

  it('depend only on the host subnet, not on how the yggaddr is written', () => {
    const upper = '0200:7547:78FB:902A:9A09:9BFF:F966:89A7';
    assert.equal(containerYggaddr(upper, 'us-gitea'), containerYggaddr(RELINK, 'us-gitea'));
  });

  it('hash the name as UTF-8', () => {
    // printf 'caf\xc3\xa9' | sha256sum → …0f466a7028a9bf4e
    assert.equal(containerYggaddr(RELINK, 'caf\u00e9'), '300:7547:78fb:902a:f46:6a70:28a9:bf4e');
  });
});

describe('host subnet', () => {
  it('is the node address with 0x02 → 0x03, bytes 1–7 kept', () => {
    assert.equal(subnetText(RELINK), '300:7547:78fb:902a::/64');
    assert.equal(subnetText('201:ff:0:0:1:2:3:4'), '301:ff::/64');
    assert.equal(bridgeAddress(RELINK), '300:7547:78fb:902a::1');
  });
  it('keeps the low bit of the first byte (1xx addresses of 200::/7 stay in their half)', () => {
    assert.equal(subnetText('2ff:1:2:3:4:5:6:7'), '3ff:1:2:3::/64');
  });
});

describe('yggaddrProblem', () => {
  it('accepts node addresses in any valid IPv6 spelling', () => {
    assert.equal(yggaddrProblem(RELINK), undefined);
    assert.equal(yggaddrProblem('200::1'), undefined);
    assert.equal(canonicalYggaddr('0200:0000:0000:0000:0000:0000:0000:0001'), '200::1');
  });
  it('refuses a subnet address', () => {
    assert.equal(
      yggaddrProblem('300:7547:78fb:902a::1'),
      'yggaddr "300:7547:78fb:902a::1" is a yggdrasil subnet address (first byte 0x03); use the host\'s node address, which starts with 2xx: (yggdrasilctl getSelf)',
    );
  });
  it('refuses an address outside 200::/7', () => {
    assert.equal(
      yggaddrProblem('fd00::1'),
      'yggaddr "fd00::1" is outside 200::/7; use the host\'s yggdrasil address (yggdrasilctl getSelf)',
    );
    assert.equal(
      yggaddrProblem('400::1'),
      'yggaddr "400::1" is outside 200::/7; use the host\'s yggdrasil address (yggdrasilctl getSelf)',
    );
  });
  it('refuses text that is not IPv6', () => {
    for (const bad of ['', '10.0.0.1', '200:7547', 'relink', '::ffff:10.0.0.1', '200::1%eth0', '200:::1']) {
      assert.equal(
        yggaddrProblem(bad),
        `yggaddr "${bad}" is not an IPv6 address; use the host's yggdrasil address (yggdrasilctl getSelf)`,
        bad,
      );
    }
  });
  it('makes address functions throw on an invalid host (validation skipped is a bug)', () => {
    assert.throws(() => containerYggaddr('300::1', 'x'), /subnet address/);
  });
});

describe('RFC 5952 text', () => {
  const cases: Array<[string, string]> = [
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of two equal runs
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['2001:DB8::A', '2001:db8::a'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'], // the longest run wins
  ];
  for (const [input, expected] of cases) {
    it(`${input} → ${expected}`, () => assert.equal(formatIPv6(parseIPv6(input)!), expected));
  }
});

describe('isIpLiteral', () => {
  it('knows IPv4 and IPv6 literals from names', () => {
    assert.equal(isIpLiteral('1.1.1.1'), true);
    assert.equal(isIpLiteral('300:7547:78fb:902a:874a:2e22:fa0d:d5d7'), true);
    assert.equal(isIpLiteral('relink-pdns-recursor'), false);
    assert.equal(isIpLiteral('1.2.3'), false);
  });
});
