/**
 * The child's side of an addon child (./addon-child.ts is the parent's): its messages to and from the
 * parent, typed as its kind declares them in its ipc.ts.
 */

export interface ParentChannel<ToChild extends object, ToParent extends object> {
  /** Resolves once the message is handed to the channel, or at once when the parent is gone. */
  send(message: ToParent): Promise<void>;
  onMessage(handler: (message: ToChild) => void): void;
}

export function parentChannel<ToChild extends object, ToParent extends object>(): ParentChannel<ToChild, ToParent> {
  return {
    send: (message) =>
      new Promise((resolve) => {
        if (!process.connected || !process.send) return resolve();
        process.send(message, undefined, {}, () => resolve());
      }),
    // The parent sends only ToChild (AddonChild.send is typed so).
    onMessage: (handler) => {
      process.on('message', handler);
    },
  };
}
