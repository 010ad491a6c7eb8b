/**
 * Holds a provider's control messages while its session is not configured — before the setup reply, and
 * during a reconnect (WsSession drops control messages sent while disconnected) — and sends them in order
 * once it is.
 */
export class SetupGate {
  readonly #session: { readonly isOpen: boolean; send(data: string): void };
  #ready = false;
  #pending: string[] = [];

  constructor(session: { readonly isOpen: boolean; send(data: string): void }) {
    this.#session = session;
  }

  /** The session is configured: control messages may go out directly. */
  get ready(): boolean {
    return this.#ready;
  }

  /** Setup (or a reconnect) is in progress: hold control messages. */
  hold(): void {
    this.#ready = false;
  }

  /** Setup completed: send what was held. */
  release(): void {
    this.#ready = true;
    this.flush();
  }

  send(json: string): void {
    if (this.#ready && this.#session.isOpen) this.#session.send(json);
    else this.#pending.push(json);
  }

  /** Send what was held, if the session is configured. */
  flush(): void {
    if (!this.#ready) return;
    const pending = this.#pending;
    this.#pending = [];
    for (const json of pending) this.#session.send(json);
  }
}
