/** A queue batch built by hand for the benches that call the consumer directly, counting acks. */
export function messageBatch(
  bodies: readonly unknown[],
  idOf: (i: number) => string = (i) => `m-${i}`,
): { batch: MessageBatch<unknown>; acked: () => number } {
  let acked = 0;
  const now = new Date();
  const messages = bodies.map(
    (body, i): Message<unknown> => ({
      id: idOf(i),
      timestamp: now,
      attempts: 1,
      body,
      ack: () => {
        acked++;
      },
      retry: () => {},
    }),
  );
  const batch: MessageBatch<unknown> = {
    queue: "commerce-events",
    messages,
    metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } },
    ackAll: () => {
      acked = messages.length;
    },
    retryAll: () => {},
  };
  return { batch, acked: () => acked };
}
