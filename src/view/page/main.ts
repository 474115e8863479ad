import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { html } from 'htm/preact';
import { RunsPage } from './runs-page.js';
import { RunPage } from './run-page.js';
import { StagePage } from './stage-page.js';

/** `#/`, `#/run/<id>`, `#/run/<id>/stage/<path>[/<iteration>]`: the page's places. */
type Route = { page: 'runs' } | { page: 'run'; run: string } | { page: 'stage'; run: string; stage: string; iteration?: string };

function route(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'run' && parts[1] !== undefined) {
    if (parts[2] === 'stage' && parts[3] !== undefined) {
      const it = parts[4];
      return { page: 'stage', run: parts[1], stage: parts[3], ...(it === undefined ? {} : { iteration: it }) };
    }
    return { page: 'run', run: parts[1] };
  }
  return { page: 'runs' };
}

function App() {
  const [r, setR] = useState(route(location.hash));
  useEffect(() => {
    const on = () => {
      setR(route(location.hash));
      window.scrollTo(0, 0);
    };
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  const crumbs =
    r.page === 'runs'
      ? html`<span>runs</span>`
      : html`<a href="#/">runs</a> / ${r.page === 'run' ? html`<span>${r.run}</span>` : html`<a href=${`#/run/${encodeURIComponent(r.run)}`}>${r.run}</a> / <span>${r.stage}</span>`}`;
  return html`<header class="top"><a class="brand" href="#/">factory view</a><nav>${crumbs}</nav></header>
    <main>
      ${r.page === 'runs' ? html`<${RunsPage} />` : r.page === 'run' ? html`<${RunPage} key=${r.run} run=${r.run} />` : html`<${StagePage} key=${`${r.run}/${r.stage}/${r.iteration ?? ''}`} run=${r.run} stage=${r.stage} iteration=${r.iteration} />`}
    </main>`;
}

render(html`<${App} />`, document.getElementById('app')!);
