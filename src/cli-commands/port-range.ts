/**
 * `--rtp-ports <min-max>` for the CLI's own RTP endpoints (softphone, replay client, load-test client): a
 * range of UDP ports the tool may bind, so it can be kept clear of other software on a shared host (issue 19).
 */
import { InvalidArgumentError } from 'commander';

export interface PortRange {
  readonly min: number;
  readonly max: number;
}

/** Even-to-odd pairs are taken from the range (RTP on the even port, RFC 3550 §11): it needs two ports. */
export function parsePortRange(value: string): PortRange {
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(value.trim());
  const min = Number(m?.[1]);
  const max = Number(m?.[2]);
  // The pool starts at the first even port: the range must hold one even/odd pair from there.
  if (m === null || min < 1024 || max > 65535 || max < min + (min % 2) + 1)
    throw new InvalidArgumentError(
      '--rtp-ports must be MIN-MAX (1024..65535) holding at least one even/odd port pair',
    );
  return { min, max };
}
