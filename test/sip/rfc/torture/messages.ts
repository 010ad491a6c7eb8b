/**
 * The RFC 4475 §3.1.1 (valid) and §3.1.2 (invalid) parser torture messages, as bytes, each with the handling
 * the RFC expects from a UAS and the answer this server gives. Lines are CRLF-terminated; the RFC's
 * <allOneLine>, <hex> and <repeat> notations are expanded. Deviation: §3.1.1.11 (mpart01) carries a binary
 * DER blob the text rendering of the RFC cannot reproduce byte for byte; it is replaced by binary octets of
 * the same kind (bare LFs, NULs, bytes ≥ 0x80) and its Content-Length computed for them.
 */

export type Expected =
  /** A final response with this status. */
  | { readonly status: number; readonly port?: 5050 }
  /** Nothing sent back; the server counted the message as dropped/absorbed. */
  | { readonly silent: 'parsed' | 'dropped' };

export interface TortureCase {
  readonly name: string;
  readonly section: string;
  readonly valid: boolean;
  /** What RFC 4475 says a receiving UAS should do. */
  readonly rfc: string;
  readonly expected: Expected;
  readonly bytes: Buffer;
  /** For an INVITE answered non-2xx: the Request-URI to ACK. */
  readonly ackUri?: string;
}

const CRLF = '\r\n';
const head = (lines: readonly string[]): string => lines.join(CRLF) + CRLF + CRLF;
const msg = (lines: readonly string[], body = ''): Buffer => Buffer.from(head(lines) + body, 'utf8');
const r = (s: string, n: number): string => s.repeat(n);

/** The SDP body most messages carry (150 octets with a 9-character address, as in the RFC). */
function sdp(o: string, c = o, t = '0 0', sLine = true): string {
  return (
    [
      'v=0',
      `o=mhandley 29739 7272939 IN IP4 ${o}`,
      ...(sLine ? ['s=-'] : []),
      `c=IN IP4 ${c}`,
      ...(sLine ? [`t=${t}`] : []),
      'm=audio 49217 RTP/AVP 0 12',
      'm=video 3227 RTP/AVP 31',
      'a=rtpmap:31 LPC',
    ].join(CRLF) + CRLF
  );
}

const WSINV = msg(
  [
    'INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0',
    'TO :',
    ' sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n',
    'from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>',
    '  ;',
    '  tag = 98asjd8',
    'MaX-fOrWaRdS: 0068',
    'Call-ID: wsinv.ndaksdj@192.0.2.1',
    'Content-Length   : 150',
    'cseq: 0009',
    '  INVITE',
    'Via  : SIP  /   2.0',
    ' /UDP',
    '    192.0.2.2;branch=390skdjuw',
    's :',
    'NewFangledHeader:   newfangled value',
    ' continued newfangled value',
    'UnknownHeaderWithUnusualValue: ;;,,;;,;',
    'Content-Type: application/sdp',
    'Route:',
    ' <sip:services.example.com;lr;unknownwith=value;unknown-no-value>',
    'v:  SIP  / 2.0  / TCP     spindle.example.com   ;',
    '  branch  =   z9hG4bK9ikj8  ,',
    ' SIP  /    2.0   / UDP  192.168.255.111   ; branch=',
    ' z9hG4bK30239',
    'm:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =',
    '      newvalue ;',
    '  secondparam ; q = 0.33',
  ],
  sdp('192.0.2.3', '192.0.2.4'),
);

const INTMETH = Buffer.concat([
  Buffer.from(
    "!interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0" +
      CRLF +
      "Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~" +
      CRLF +
      'To: "BEL:\\\x07 NUL:\\\x00 DEL:\\\x7F" ' +
      "<sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com>" +
      CRLF,
    'latin1',
  ),
  Buffer.from(
    "From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=\"работающий\";tag=_token~1'+`*%!-." +
      CRLF +
      'Call-ID: intmeth.word%ZK-!.*_+\'@word`~)(><:\\/"][?}{' +
      CRLF +
      "CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~" +
      CRLF +
      'Max-Forwards: 255' +
      CRLF +
      "extensionHeader-!.%*+_`'~:\uFEFF大停電" +
      CRLF +
      'Content-Length: 0' +
      CRLF +
      CRLF,
    'utf8',
  ),
]);

const LONGREQ = msg(
  [
    'INVITE sip:user@example.com SIP/2.0',
    `To: "I have a user name of ${r('extreme', 10)} proportion"<sip:user@example.com:6000;unknownparam1=very${r('long', 20)}value;longparam${r('name', 25)}=shortvalue;very${r('long', 25)}ParameterNameWithNoValue>`,
    `F: sip:${r('amazinglylongcallername', 5)}@example.net;tag=12${r('982', 50)}424;unknownheaderparam${r('name', 20)}=unknowheaderparam${r('value', 15)};unknownValueless${r('paramname', 10)}`,
    `Call-ID: longreq.one${r('really', 20)}longcallid`,
    'CSeq: 3882340 INVITE',
    `Unknown-${r('Long', 20)}-Name:unknown-${r('long', 20)}-value;unknown-${r('long', 20)}-parameter-name =unknown-${r('long', 20)}-parameter-value`,
    'Via: SIP/2.0/TCP sip33.example.com',
    'v: SIP/2.0/TCP sip32.example.com',
    'V: SIP/2.0/TCP sip31.example.com',
    'Via: SIP/2.0/TCP sip30.example.com',
    'ViA: SIP/2.0/TCP sip29.example.com',
    'VIa: SIP/2.0/TCP sip28.example.com',
    'VIA: SIP/2.0/TCP sip27.example.com',
    'via: SIP/2.0/TCP sip26.example.com',
    'viA: SIP/2.0/TCP sip25.example.com',
    'vIa: SIP/2.0/TCP sip24.example.com',
    'vIA: SIP/2.0/TCP sip23.example.com',
    'V :  SIP/2.0/TCP sip22.example.com',
    'v :  SIP/2.0/TCP sip21.example.com',
    'V  : SIP/2.0/TCP sip20.example.com',
    'v  : SIP/2.0/TCP sip19.example.com',
    'Via : SIP/2.0/TCP sip18.example.com',
    'Via  : SIP/2.0/TCP sip17.example.com',
    ...Array.from({ length: 16 }, (_, i) => `Via: SIP/2.0/TCP sip${16 - i}.example.com`),
    `Via: SIP/2.0/TCP host.example.com;received=192.0.2.5;branch=very${r('long', 50)}branchvalue`,
    'Max-Forwards: 70',
    `Contact: <sip:${r('amazinglylongcallername', 5)}@host5.example.net>`,
    'Content-Type: application/sdp',
    'l: 150',
  ],
  sdp('192.0.2.1'),
);

/** §3.1.1.11: two body parts, the second binary with bare LFs (see the file comment). */
function mpart01(): Buffer {
  const binary = Buffer.from(
    Array.from({ length: 300 }, (_, i) => (i % 37 === 5 ? 0x0a : (i * 73 + 11) & 0xff)),
  );
  const body = Buffer.concat([
    Buffer.from(
      [
        '--7a9cbec02ceef655',
        'Content-Type: text/plain',
        'Content-Transfer-Encoding: binary',
        '',
        'Hello',
        '--7a9cbec02ceef655',
        'Content-Type: application/octet-stream',
        'Content-Transfer-Encoding: binary',
        '',
        '',
      ].join(CRLF),
    ),
    binary,
    Buffer.from(`${CRLF}--7a9cbec02ceef655--${CRLF}`),
  ]);
  const headers = head([
    'MESSAGE sip:kumiko@example.org SIP/2.0',
    'Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-;rport',
    'Max-Forwards: 70',
    'Route: <sip:127.0.0.1:5080>',
    'Identity: r5mwreLuyDRYBi/0TiPwEsY3rEVsk/G2WxhgTV1PF7hHuLIK0YWVKZhKv9Mj8UeXqkMVbnVq37CD+813gvYjcBUaZngQmXc9WNZSDNGCzA+fWl9MEUHWIZo1CeJebdY/XlgKeTa0Olvq0rt70Q5jiSfbqMJmQFteeivUhkMWYUA=',
    'Contact: <sip:fluffy@127.0.0.1:5070>',
    'To: <sip:kumiko@example.org>',
    'From: <sip:fluffy@example.com>;tag=2fb0dcc9',
    'Call-ID: 3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA..',
    'CSeq: 1 MESSAGE',
    'Content-Transfer-Encoding: binary',
    'Content-Type: multipart/mixed;boundary=7a9cbec02ceef655',
    'Date: Sat, 15 Oct 2005 04:44:56 GMT',
    'User-Agent: SIPimp.org/0.2.5 (curses)',
    `Content-Length: ${body.length}`,
  ]);
  return Buffer.concat([Buffer.from(headers), body]);
}

export const VALID: readonly TortureCase[] = [
  {
    name: 'wsinv',
    section: '3.1.1.1',
    valid: true,
    rfc: 'well-formed; this in-dialog INVITE matches no dialog of ours',
    expected: { status: 481 },
    ackUri: 'sip:vivekg@chair-dnrc.example.com;unknownparam',
    bytes: WSINV,
  },
  {
    name: 'intmeth',
    section: '3.1.1.2',
    valid: true,
    rfc: 'well-formed; an endpoint answers the unknown method with 501 and Allow',
    expected: { status: 501 },
    bytes: INTMETH,
  },
  {
    name: 'esc01',
    section: '3.1.1.3',
    valid: true,
    rfc: 'well-formed; escapes are decoded when comparing URIs (the called user is not ours: 404)',
    expected: { status: 404 },
    ackUri: 'sip:sips%3Auser%40example.com@example.net',
    bytes: msg(
      [
        'INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0',
        'To: sip:%75se%72@example.com',
        'From: <sip:I%20have%20spaces@example.net>;tag=938',
        'Max-Forwards: 87',
        'i: esc01.239409asdfakjkn23onasd0-3234',
        'CSeq: 234234 INVITE',
        'Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw',
        'C: application/sdp',
        'Contact:',
        '  <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>',
        'Content-Length: 150',
      ],
      sdp('192.0.2.1'),
    ),
  },
  {
    name: 'escnull',
    section: '3.1.1.4',
    valid: true,
    rfc: 'well-formed (escaped NULs in URIs); REGISTER is not served here: 405',
    expected: { status: 405 },
    bytes: msg([
      'REGISTER sip:example.com SIP/2.0',
      'To: sip:null-%00-null@example.com',
      'From: sip:null-%00-null@example.com;tag=839923423',
      'Max-Forwards: 70',
      'Call-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd',
      'CSeq: 14398234 REGISTER',
      'Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw',
      'Contact: <sip:%00@host5.example.com>',
      'Contact: <sip:%00%00@host5.example.com>',
      'L:0',
    ]),
  },
  {
    name: 'esc02',
    section: '3.1.1.5',
    valid: true,
    rfc: 'well-formed; RE%47IST%45R is an unknown method, not REGISTER: 501',
    expected: { status: 501 },
    bytes: msg([
      'RE%47IST%45R sip:registrar.example.com SIP/2.0',
      'To: "%Z%45" <sip:resource@example.com>',
      'From: "%Z%45" <sip:resource@example.com>;tag=f232jadfj23',
      'Call-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf',
      'Via: SIP/2.0/TCP host.example.com;branch=z9hG4bK209%fzsnel234',
      'CSeq: 29344 RE%47IST%45R',
      'Max-Forwards: 70',
      'Contact: <sip:alias1@host1.example.com>',
      'C%6Fntact: <sip:alias2@host2.example.com>',
      'Contact: <sip:alias3@host3.example.com>',
      'l: 0',
    ]),
  },
  {
    name: 'lwsdisp',
    section: '3.1.1.6',
    valid: true,
    rfc: 'well-formed (no LWS between display name and <): OPTIONS 200',
    expected: { status: 200 },
    bytes: msg([
      'OPTIONS sip:user@example.com SIP/2.0',
      'To: sip:user@example.com',
      'From: caller<sip:caller@example.com>;tag=323',
      'Max-Forwards: 70',
      'Call-ID: lwsdisp.1234abcd@funky.example.com',
      'CSeq: 60 OPTIONS',
      'Via: SIP/2.0/UDP funky.example.com;branch=z9hG4bKkdjuw',
      'l: 0',
    ]),
  },
  {
    name: 'longreq',
    section: '3.1.1.7',
    valid: true,
    rfc: 'well-formed (long values, 34 Vias, RFC 2543 top Via without branch); user not ours: 404',
    expected: { status: 404 },
    ackUri: 'sip:user@example.com',
    bytes: LONGREQ,
  },
  {
    name: 'dblreq',
    section: '3.1.1.8',
    valid: true,
    rfc: 'handle the REGISTER (405 here); the INVITE-looking trailing octets are noise and get nothing',
    expected: { status: 405 },
    bytes: Buffer.concat([
      msg([
        'REGISTER sip:example.com SIP/2.0',
        'To: sip:j.user@example.com',
        'From: sip:j.user@example.com;tag=43251j3j324',
        'Max-Forwards: 8',
        'I: dblreq.0ha0isndaksdj99sdfafnl3lk233412',
        'Contact: sip:j.user@host.example.com',
        'CSeq: 8 REGISTER',
        'Via: SIP/2.0/UDP 192.0.2.125;branch=z9hG4bKkdjuw23492',
        'Content-Length: 0',
      ]),
      msg(
        [
          'INVITE sip:joe@example.com SIP/2.0',
          't: sip:joe@example.com',
          'From: sip:caller@example.net;tag=141334',
          'Max-Forwards: 8',
          'Call-ID: dblreq.0ha0isnda977644900765@192.0.2.15',
          'CSeq: 8 INVITE',
          'Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw380234',
          'Content-Type: application/sdp',
          'Content-Length: 150',
        ],
        sdp('192.0.2.15').replace('m=video', 'm =video'),
      ),
    ]),
  },
  {
    name: 'semiuri',
    section: '3.1.1.9',
    valid: true,
    rfc: 'well-formed (user part "user;par=u@example.net"): OPTIONS 200',
    expected: { status: 200 },
    bytes: msg([
      'OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0',
      'To: sip:j_user@example.com',
      'From: sip:caller@example.org;tag=33242',
      'Max-Forwards: 3',
      'Call-ID: semiuri.0ha0isndaksdj',
      'CSeq: 8 OPTIONS',
      'Accept: application/sdp, application/pkcs7-mime,',
      '        multipart/mixed, multipart/signed,',
      '        message/sip, message/sipfrag',
      'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKkdjuw',
      'l: 0',
    ]),
  },
  {
    name: 'transports',
    section: '3.1.1.10',
    valid: true,
    rfc: 'well-formed (SCTP, TLS and an unknown transport in lower Vias): OPTIONS 200',
    expected: { status: 200 },
    bytes: msg([
      'OPTIONS sip:user@example.com SIP/2.0',
      'To: sip:user@example.com',
      'From: <sip:caller@example.com>;tag=323',
      'Max-Forwards: 70',
      'Call-ID:  transports.kijh4akdnaqjkwendsasfdj',
      'Accept: application/sdp',
      'CSeq: 60 OPTIONS',
      'Via: SIP/2.0/UDP t1.example.com;branch=z9hG4bKkdjuw',
      'Via: SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf',
      'Via: SIP/2.0/TLS t3.example.com;branch=z9hG4bK2980unddj',
      'Via: SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en',
      'Via: SIP/2.0/TCP t5.example.com;branch=z9hG4bK0a9idfnee',
      'l: 0',
    ]),
  },
  {
    name: 'mpart01',
    section: '3.1.1.11',
    valid: true,
    rfc: 'well-formed multipart MIME with a binary part; MESSAGE is not served here: 405',
    expected: { status: 405 },
    bytes: mpart01(),
  },
  {
    name: 'unreason',
    section: '3.1.1.12',
    valid: true,
    rfc: 'well-formed response (UTF-8 reason phrase); it matches no transaction and is absorbed',
    expected: { silent: 'parsed' },
    bytes: msg(
      [
        'SIP/2.0 200 = 2**3 * 5**2 но сто девяносто девять - простое',
        'Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923',
        'Call-ID: unreason.1234ksdfak3j2erwedfsASdf',
        'CSeq: 35 INVITE',
        'From: sip:user@example.com;tag=11141343',
        'To: sip:user@example.edu;tag=2229',
        'Content-Length: 154',
        'Content-Type: application/sdp',
        'Contact: <sip:user@host198.example.com>',
      ],
      sdp('192.0.2.198'),
    ),
  },
  {
    name: 'noreason',
    section: '3.1.1.13',
    valid: true,
    rfc: 'well-formed response with an empty reason phrase; matches nothing, absorbed',
    expected: { silent: 'parsed' },
    bytes: msg([
      'SIP/2.0 100 ',
      'Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe',
      'Call-ID: noreason.asndj203insdf99223ndf',
      'CSeq: 35 INVITE',
      'From: <sip:user@example.com>;tag=39ansfi3',
      'To: <sip:user@example.edu>;tag=902jndnke3',
      'Content-Length: 0',
      'Contact: <sip:user@host105.example.com>',
    ]),
  },
];

const INVITE_CT = (len: number): string[] => ['Content-Type: application/sdp', `Content-Length: ${len}`];

export const INVALID: readonly TortureCase[] = [
  {
    name: 'badinv01',
    section: '3.1.2.1',
    valid: false,
    rfc: 'extraneous separators in Via and Contact: 400',
    expected: { status: 400 },
    bytes: msg(
      [
        'INVITE sip:user@example.com SIP/2.0',
        'To: sip:j.user@example.com',
        'From: sip:caller@example.net;tag=134161461246',
        'Max-Forwards: 7',
        'Call-ID: badinv01.0ha0isndaksdjasdf3234nas',
        'CSeq: 8 INVITE',
        'Via: SIP/2.0/UDP 192.0.2.15;;,;,,',
        'Contact: "Joe" <sip:joe@example.org>;;;;',
        'Content-Length: 152',
        'Content-Type: application/sdp',
      ],
      sdp('192.0.2.15'),
    ),
  },
  {
    name: 'clerr',
    section: '3.1.2.2',
    valid: false,
    rfc: 'Content-Length larger than the datagram: 400',
    expected: { status: 400 },
    bytes: msg(
      [
        'INVITE sip:user@example.com SIP/2.0',
        'Max-Forwards: 80',
        'To: sip:j.user@example.com',
        'From: sip:caller@example.net;tag=93942939o2',
        'Contact: <sip:caller@hungry.example.net>',
        'Call-ID: clerr.0ha0isndaksdjweiafasdk3',
        'CSeq: 8 INVITE',
        'Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bK-39234-23523',
        ...INVITE_CT(9999),
      ],
      sdp('192.0.2.155'),
    ),
  },
  {
    name: 'ncl',
    section: '3.1.2.3',
    valid: false,
    rfc: 'negative Content-Length: 400 (over UDP)',
    expected: { status: 400 },
    bytes: msg(
      [
        'INVITE sip:user@example.com SIP/2.0',
        'Max-Forwards: 254',
        'To: sip:j.user@example.com',
        'From: sip:caller@example.net;tag=32394234',
        'Call-ID: ncl.0ha0isndaksdj2193423r542w35',
        'CSeq: 0 INVITE',
        'Via: SIP/2.0/UDP 192.0.2.53;branch=z9hG4bKkdjuw',
        'Contact: <sip:caller@example53.example.net>',
        'Content-Type: application/sdp',
        'Content-Length: -999',
      ],
      sdp('192.0.2.53'),
    ),
  },
  {
    name: 'scalar02',
    section: '3.1.2.4',
    valid: false,
    rfc: 'CSeq beyond 2**32-1 (and Max-Forwards/Expires out of range): 400',
    expected: { status: 400 },
    bytes: msg([
      'REGISTER sip:example.com SIP/2.0',
      'Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bK342sdfoi3',
      'To: <sip:user@example.com>',
      'From: <sip:user@example.com>;tag=239232jh3',
      'CSeq: 36893488147419103232 REGISTER',
      'Call-ID: scalar02.23o0pd9vanlq3wnrlnewofjas9ui32',
      'Max-Forwards: 300',
      `Expires: 1${r('0', 100)}`,
      'Contact: <sip:user@host129.example.com>',
      '  ;expires=280297596632815',
      'Content-Length: 0',
    ]),
  },
  {
    name: 'scalarlg',
    section: '3.1.2.5',
    valid: false,
    rfc: 'a response with overlarge scalar values: discarded',
    expected: { silent: 'dropped' },
    bytes: msg([
      'SIP/2.0 503 Service Unavailable',
      'Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bKzzxdiwo34sw;received=192.0.2.129',
      'To: <sip:user@example.com>',
      'From: <sip:other@example.net>;tag=2easdjfejw',
      'CSeq: 9292394834772304023312 OPTIONS',
      'Call-ID: scalarlg.noase0of0234hn2qofoaf0232aewf2394r',
      'Retry-After: 949302838503028349304023988',
      'Warning: 1812 overture "In Progress"',
      'Content-Length: 0',
    ]),
  },
  {
    name: 'quotbal',
    section: '3.1.2.6',
    valid: false,
    rfc: 'unterminated quoted string in the To display name: 400 (to the Via port 5050)',
    expected: { status: 400, port: 5050 },
    bytes: msg(
      [
        'INVITE sip:user@example.com SIP/2.0',
        'To: "Mr. J. User <sip:j.user@example.com>',
        'From: sip:caller@example.net;tag=93334',
        'Max-Forwards: 10',
        'Call-ID: quotbal.aksdj',
        'Contact: <sip:caller@host59.example.net>',
        'CSeq: 8 INVITE',
        'Via: SIP/2.0/UDP 192.0.2.59:5050;branch=z9hG4bKkdjuw39234',
        ...INVITE_CT(152),
      ],
      sdp('192.0.2.15'),
    ),
  },
  {
    name: 'ltgtruri',
    section: '3.1.2.7',
    valid: false,
    rfc: 'Request-URI enclosed in <>: 400',
    expected: { status: 400 },
    bytes: msg(
      [
        'INVITE <sip:user@example.com> SIP/2.0',
        'To: sip:user@example.com',
        'From: sip:caller@example.net;tag=39291',
        'Max-Forwards: 23',
        'Call-ID: ltgtruri.1@192.0.2.5',
        'CSeq: 1 INVITE',
        'Via: SIP/2.0/UDP 192.0.2.5',
        'Contact: <sip:caller@host5.example.net>',
        ...INVITE_CT(159),
      ],
      sdp('192.0.2.5', '192.0.2.5', '3149328700 0'),
    ),
  },
  {
    name: 'lwsruri',
    section: '3.1.2.8',
    valid: false,
    rfc: 'LWS inside the Request-URI: 400',
    expected: { status: 400 },
    bytes: msg(
      [
        'INVITE sip:user@example.com; lr SIP/2.0',
        'To: sip:user@example.com;tag=3xfe-9921883-z9f',
        'From: sip:caller@example.net;tag=231413434',
        'Max-Forwards: 5',
        'Call-ID: lwsruri.asdfasdoeoi2323-asdfwrn23-asd834rk423',
        'CSeq: 2130706432 INVITE',
        'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKkdjuw2395',
        'Contact: <sip:caller@host1.example.net>',
        ...INVITE_CT(159),
      ],
      sdp('192.0.2.1', '192.0.2.1', '3149328700 0'),
    ),
  },
  {
    name: 'lwsstart',
    section: '3.1.2.9',
    valid: false,
    rfc: 'multiple SP between request-line elements: 400',
    expected: { status: 400 },
    bytes: msg(
      [
        'INVITE  sip:user@example.com  SIP/2.0',
        'Max-Forwards: 8',
        'To: sip:user@example.com',
        'From: sip:caller@example.net;tag=8814',
        'Call-ID: lwsstart.dfknq234oi243099adsdfnawe3@example.com',
        'CSeq: 1893884 INVITE',
        'Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw3923',
        'Contact: <sip:caller@host1.example.net>',
        ...INVITE_CT(150),
      ],
      sdp('192.0.2.1'),
    ),
  },
  {
    name: 'trws',
    section: '3.1.2.10',
    valid: false,
    rfc: 'SP at the end of the request line: 400',
    expected: { status: 400 },
    bytes: msg([
      'OPTIONS sip:remote-target@example.com SIP/2.0  ',
      'Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK299342093',
      'To: <sip:remote-target@example.com>',
      'From: <sip:local-resource@example.com>;tag=329429089',
      'Call-ID: trws.oicu34958239neffasdhr2345r',
      'Accept: application/sdp',
      'CSeq: 238923 OPTIONS',
      'Max-Forwards: 70',
      'Content-Length: 0',
    ]),
  },
  {
    name: 'escruri',
    section: '3.1.2.11',
    valid: false,
    rfc: 'escaped headers in the Request-URI: 400 (or ignore them)',
    expected: { status: 400 },
    bytes: msg(
      [
        'INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0',
        'To: sip:user@example.com',
        'From: sip:caller@example.net;tag=341518',
        'Max-Forwards: 7',
        'Contact: <sip:caller@host39923.example.net>',
        'Call-ID: escruri.23940-asdfhj-aje3br-234q098w-fawerh2q-h4n5',
        'CSeq: 149209342 INVITE',
        'Via: SIP/2.0/UDP host-of-the-hour.example.com;branch=z9hG4bKkdjuw',
        ...INVITE_CT(150),
      ],
      sdp('192.0.2.1'),
    ),
  },
  {
    name: 'baddate',
    section: '3.1.2.12',
    valid: false,
    rfc: 'non-GMT Date: may be rejected, or ignored when unused; we ignore it (user not ours: 404)',
    expected: { status: 404 },
    ackUri: 'sip:user@example.com',
    bytes: msg(
      [
        'INVITE sip:user@example.com SIP/2.0',
        'To: sip:user@example.com',
        'From: sip:caller@example.net;tag=2234923',
        'Max-Forwards: 70',
        'Call-ID: baddate.239423mnsadf3j23lj42--sedfnm234',
        'CSeq: 1392934 INVITE',
        'Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw',
        'Date: Fri, 01 Jan 2010 16:00:00 EST',
        'Contact: <sip:caller@host5.example.net>',
        ...INVITE_CT(150),
      ],
      sdp('192.0.2.5'),
    ),
  },
  {
    name: 'regbadct',
    section: '3.1.2.13',
    valid: false,
    rfc: 'Contact URI with headers not enclosed in <>: 400',
    expected: { status: 400 },
    bytes: msg([
      'REGISTER sip:example.com SIP/2.0',
      'To: sip:user@example.com',
      'From: sip:user@example.com;tag=998332',
      'Max-Forwards: 70',
      'Call-ID: regbadct.k345asrl3fdbv@10.0.0.1',
      'CSeq: 1 REGISTER',
      'Via: SIP/2.0/UDP 135.180.130.133:5060;branch=z9hG4bKkdjuw',
      'Contact: sip:user@example.com?Route=%3Csip:sip.example.com%3E',
      'l: 0',
    ]),
  },
  {
    name: 'badaspec',
    section: '3.1.2.14',
    valid: false,
    rfc: 'spaces inside the To addr-spec <>: 400',
    expected: { status: 400 },
    bytes: msg([
      'OPTIONS sip:user@example.org SIP/2.0',
      'Via: SIP/2.0/UDP host4.example.com:5060;branch=z9hG4bKkdju43234',
      'Max-Forwards: 70',
      'From: "Bell, Alexander" <sip:a.g.bell@example.com>;tag=433423',
      'To: "Watson, Thomas" < sip:t.watson@example.org >',
      'Call-ID: badaspec.sdf0234n2nds0a099u23h3hnnw009cdkne3',
      'Accept: application/sdp',
      'CSeq: 3923239 OPTIONS',
      'l: 0',
    ]),
  },
  {
    name: 'baddn',
    section: '3.1.2.15',
    valid: false,
    rfc: 'non-token characters in an unquoted display name: 400',
    expected: { status: 400 },
    bytes: msg([
      'OPTIONS sip:t.watson@example.org SIP/2.0',
      'Via:     SIP/2.0/UDP c.example.com:5060;branch=z9hG4bKkdjuw',
      'Max-Forwards:      70',
      'From:    Bell, Alexander <sip:a.g.bell@example.com>;tag=43',
      'To:      Watson, Thomas <sip:t.watson@example.org>',
      'Call-ID: baddn.31415@c.example.com',
      'Accept: application/sdp',
      'CSeq:    3923239 OPTIONS',
      'l: 0',
    ]),
  },
  {
    name: 'badvers',
    section: '3.1.2.16',
    valid: false,
    rfc: 'unknown protocol version SIP/7.0: 505',
    expected: { status: 505 },
    bytes: msg([
      'OPTIONS sip:t.watson@example.org SIP/7.0',
      'Via:     SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw',
      'Max-Forwards:     70',
      'From:    A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe',
      'To:      T. Watson <sip:t.watson@example.org>',
      'Call-ID: badvers.31417@c.example.com',
      'CSeq:    1 OPTIONS',
      'l: 0',
    ]),
  },
  {
    name: 'mismatch01',
    section: '3.1.2.17',
    valid: false,
    rfc: 'request line and CSeq methods differ: 400',
    expected: { status: 400 },
    bytes: msg([
      'OPTIONS sip:user@example.com SIP/2.0',
      'To: sip:j.user@example.com',
      'From: sip:caller@example.net;tag=34525',
      'Max-Forwards: 6',
      'Call-ID: mismatch01.dj0234sxdfl3',
      'CSeq: 8 INVITE',
      'Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw',
      'l: 0',
    ]),
  },
  {
    name: 'mismatch02',
    section: '3.1.2.18',
    valid: false,
    rfc: 'unknown method with a CSeq method mismatch: 400, not 501',
    expected: { status: 400 },
    bytes: msg(
      [
        'NEWMETHOD sip:user@example.com SIP/2.0',
        'To: sip:j.user@example.com',
        'From: sip:caller@example.net;tag=34525',
        'Max-Forwards: 6',
        'Call-ID: mismatch02.dj0234sxdfl3',
        'CSeq: 8 INVITE',
        'Contact: <sip:caller@host.example.net>',
        'Via: SIP/2.0/UDP host.example.net;branch=z9hG4bKkdjuw',
        'Content-Type: application/sdp',
        'l: 138',
      ],
      sdp('192.0.2.1', '192.0.2.1', '0 0', false),
    ),
  },
  {
    name: 'bigcode',
    section: '3.1.2.19',
    valid: false,
    rfc: 'a response with an overlarge status code: discarded',
    expected: { silent: 'dropped' },
    bytes: msg([
      'SIP/2.0 4294967301 better not break the receiver',
      'Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe',
      'Call-ID: bigcode.asdof3uj203asdnf3429uasdhfas3ehjasdfas9i',
      'CSeq: 353494 INVITE',
      'From: <sip:user@example.com>;tag=39ansfi3',
      'To: <sip:user@example.edu>;tag=902jndnke3',
      'Content-Length: 0',
      'Contact: <sip:user@host105.example.com>',
    ]),
  },
];

/** The Call-ID of a fixture (its long or compact form), for matching responses. */
export function callIdOf(bytes: Buffer): string {
  const m = /^(?:Call-ID|i)\s*:\s*(.*?)\s*$/im.exec(bytes.toString('latin1'));
  return Buffer.from(m?.[1] ?? '', 'latin1').toString('utf8');
}
