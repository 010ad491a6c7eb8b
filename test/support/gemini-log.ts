/**
 * Reader for the js-genai `*.websocket.log` recordings in test/fixtures/providers/gemini-live/ (format in
 * test/fixtures/providers/README.md): `>N <json>` is one client→server frame on one line, `<N <json>` a
 * server→client frame pretty-printed over several lines up to the next `>`/`<` marker; N is the frame
 * length in bytes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface LoggedFrame {
  readonly direction: 'client' | 'server';
  /** The length the recorder wrote (bytes of the frame). */
  readonly declaredBytes: number;
  /** The frame text as recorded (trailing blank lines removed). */
  readonly text: string;
  /** 1-based line of the marker, for failure messages. */
  readonly line: number;
}

const MARKER = /^([<>])(\d+) /;

export function parseWebsocketLog(content: string): LoggedFrame[] {
  const frames: LoggedFrame[] = [];
  const lines = content.split('\n');
  let current:
    { direction: 'client' | 'server'; declaredBytes: number; line: number; lines: string[] } | undefined;
  const flush = (): void => {
    if (current === undefined) return;
    frames.push({
      direction: current.direction,
      declaredBytes: current.declaredBytes,
      text: current.lines.join('\n').replace(/\n+$/, ''),
      line: current.line,
    });
    current = undefined;
  };
  lines.forEach((line, i) => {
    const m = MARKER.exec(line);
    if (m !== null) {
      flush();
      current = {
        direction: m[1] === '>' ? 'client' : 'server',
        declaredBytes: Number(m[2]),
        line: i + 1,
        lines: [line.slice(m[0].length)],
      };
    } else if (current !== undefined) {
      current.lines.push(line);
    } else if (line.trim() !== '') {
      throw new Error(`line ${i + 1}: text before the first frame marker`);
    }
  });
  flush();
  return frames;
}

export interface LogFile {
  readonly name: string;
  readonly frames: LoggedFrame[];
}

/** Every `*.websocket.log` in `dir`, parsed. */
export function readWebsocketLogs(dir: string): LogFile[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.websocket.log'))
    .sort()
    .map((name) => ({ name, frames: parseWebsocketLog(readFileSync(join(dir, name), 'utf8')) }));
}
