/**
 * The page's tables. Wide on a desktop; on a phone each row becomes a card of label: value lines
 * (the labels come from each cell's `data-label`), so nothing runs past the screen's edge.
 */
import type { Child } from "hono/jsx";

export function Table(props: { head: string[]; empty: string; children?: Child; rows: number }) {
  return (
    <table class="cards">
      <thead>
        <tr>
          {props.head.map((h) => (
            <th>{h}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {props.rows === 0 ? (
          <tr>
            <td colspan={props.head.length} class="muted">
              {props.empty}
            </td>
          </tr>
        ) : (
          props.children
        )}
      </tbody>
    </table>
  );
}

/** A cell that names its column, for the phone layout; its content is one box beside that name. */
export function Td(props: { l: string; class?: string; children?: Child; [data: `data-${string}`]: string }) {
  const { l, children, ...rest } = props;
  return (
    <td data-label={l} {...rest}>
      <span class="cell">{children}</span>
    </td>
  );
}
