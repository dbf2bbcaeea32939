/**
 * What a composition opened, closed in reverse order (last opened, first closed), once: a
 * second close() returns the first one's promise. A step that fails does not stop the others;
 * the first failure is rethrown at the end.
 */
export interface CloseStack {
  /** Registers a close step for something just opened. */
  defer(step: () => void | Promise<void>): void;
  close(): Promise<void>;
}

export function createCloseStack(): CloseStack {
  const steps: Array<() => void | Promise<void>> = [];
  let closing: Promise<void> | undefined;
  return {
    defer(step) {
      if (closing) throw new Error('already closing');
      steps.push(step);
    },
    close() {
      closing ??= (async () => {
        let failure: unknown;
        for (const step of steps.reverse()) {
          try {
            await step();
          } catch (error) {
            failure ??= error;
          }
        }
        if (failure !== undefined) throw failure;
      })();
      return closing;
    },
  };
}
