/**
 * Release notes: GitHub-flavoured Markdown (remark-gfm: tables, task lists, strikethrough,
 * autolinks, footnotes) rendered with react-markdown, HTML sanitised by rehype-sanitize (raw HTML
 * is never interpreted — rehype-raw is deliberately not used), and every URL checked so that only
 * http(s) links survive. Links open outside the app: in a new tab with `noopener noreferrer`, or,
 * in Electron, through the bridge's openExternal channel. Images are shown as links, never loaded
 * (the CSP allows no remote images, and a remote image in notes would be a tracking beacon).
 */
import type { ComponentProps, MouseEvent } from 'react';
import Markdown, { type Components } from 'react-markdown';
import rehypeSanitize from 'rehype-sanitize';
import remarkGfm from 'remark-gfm';

/** The URL when it is an absolute http(s) URL, else undefined (the attribute is then dropped). */
export function safeHttpUrl(url: string): string | undefined {
  const trimmed = url.trim();
  if (!/^https?:\/\//i.test(trimmed)) return undefined;
  try {
    const parsed = new URL(trimmed);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : undefined;
  } catch {
    return undefined;
  }
}

function urlTransform(url: string): string | undefined {
  return safeHttpUrl(url);
}

export interface ReleaseNotesProps {
  markdown: string;
  /** Opens a link outside the app; when absent links use target=_blank. */
  openExternal?: (url: string) => void;
  /** data-testid of the notes element; default "release-notes". */
  testId?: string;
}

/** Renders release notes inertly: no raw HTML, no script, only http(s) links. */
export function ReleaseNotes({ markdown, openExternal, testId = 'release-notes' }: ReleaseNotesProps) {
  const components: Components = {
    a: ({ href, children, title }: ComponentProps<'a'>) => {
      const safe = href ? safeHttpUrl(href) : undefined;
      if (!safe) return <span className="md-dropped-link">{children}</span>;
      const onClick = openExternal
        ? (e: MouseEvent<HTMLAnchorElement>) => {
            e.preventDefault();
            openExternal(safe);
          }
        : undefined;
      return (
        <a href={safe} title={title} target="_blank" rel="noopener noreferrer" onClick={onClick}>
          {children}
          <span className="visually-hidden"> (opens outside Upkeep)</span>
        </a>
      );
    },
    img: ({ src, alt }: ComponentProps<'img'>) => {
      const safe = typeof src === 'string' ? safeHttpUrl(src) : undefined;
      const label = alt ? `Image: ${alt}` : 'Image';
      if (!safe) return <span className="md-image">[{label}]</span>;
      return (
        <a
          className="md-image"
          href={safe}
          target="_blank"
          rel="noopener noreferrer"
          onClick={
            openExternal
              ? (e: MouseEvent<HTMLAnchorElement>) => {
                  e.preventDefault();
                  openExternal(safe);
                }
              : undefined
          }
        >
          [{label}]
        </a>
      );
    },
    // Notes sit under the page's own headings: shift theirs down two levels.
    h1: ({ children }) => <h3>{children}</h3>,
    h2: ({ children }) => <h4>{children}</h4>,
    h3: ({ children }) => <h5>{children}</h5>,
    h4: ({ children }) => <h6>{children}</h6>,
    // Wide tables scroll inside the notes instead of widening the page.
    table: ({ children }) => (
      <div className="md-table-wrap">
        <table>{children}</table>
      </div>
    ),
  };
  if (markdown.trim() === '') return <p className="muted" data-testid={testId}>No release notes were published for this version.</p>;
  return (
    <div className="markdown" data-testid={testId}>
      <Markdown remarkPlugins={[remarkGfm]} rehypePlugins={[rehypeSanitize]} urlTransform={urlTransform} components={components}>
        {markdown}
      </Markdown>
    </div>
  );
}
