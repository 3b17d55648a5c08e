// One unit of {{name}}'s work, apart from the loop so the tests call it directly.
export function work(state) {
  return { done: state.done + 1, lastAt: new Date().toISOString() };
}
