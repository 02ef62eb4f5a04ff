/**
 * A file-system path that wraps at its separators on narrow screens: a word-break opportunity
 * (<wbr>) follows every "/" and "\", so "/srv/very/long/install/dir" breaks between folders
 * rather than overflowing or splitting a folder name.
 */
import { Fragment } from 'react';

/** The path in a <code>, breakable after each separator. */
export function PathText({ path, testId }: { path: string; testId?: string }) {
  const parts = path.split(/(?<=[/\\])/);
  return (
    <code className="path" data-testid={testId}>
      {parts.map((part, i) => (
        <Fragment key={i}>
          {part}
          {i < parts.length - 1 ? <wbr /> : null}
        </Fragment>
      ))}
    </code>
  );
}
