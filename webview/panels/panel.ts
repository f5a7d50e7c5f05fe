/**
 * A playground panel: one tab of the UI. Add a panel by writing a module that
 * exports a Panel and listing it in `panels/index.ts`.
 */
export interface Panel {
  /** Stable id (also the DOM id prefix and the state key). */
  id: string;
  title: string;
  /** Builds the panel's content from current state. Called again whenever `rerender()` runs. */
  render(): HTMLElement;
  /** Called once at start-up, with a function that re-renders this panel. */
  init?(rerender: () => void): void;
}
