/** The long-poll handler's own `herald_` family, reported through the server's `meter`. */
export const HELD_POLLS_METRIC = {
  name: 'herald_long_poll_held_polls',
  help: 'Long-poll polls held open on this node, waiting for frames.',
  labelNames: [],
  unit: '1',
} as const;
