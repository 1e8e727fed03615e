/** The page's style. */
export const INSPECTOR_STYLE: string = `
:root { color-scheme: light dark; --line: #8884; --muted: #888; --accent: #2f6fdf; --bad: #c0392b; --good: #2e8b57; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; }
header { display: flex; gap: 1rem; align-items: baseline; padding: .6rem 1rem; border-bottom: 1px solid var(--line); }
header h1 { font-size: 1.1rem; margin: 0; }
#state { color: var(--muted); flex: 1; }
#sign-in { padding: 1rem; display: flex; gap: .5rem; align-items: center; }
#sign-in[hidden], main[hidden], inspector-session[hidden] { display: none; }
.notice { padding: 0 1rem; color: var(--muted); min-height: 1.4em; margin: .4rem 0; }
main { padding: 0 1rem 2rem; }
h2 { font-size: 1rem; margin: 1.2rem 0 .4rem; }
h2 .count { color: var(--muted); font-weight: normal; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; font-size: .85em; color: var(--muted); }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
tr.empty td { color: var(--muted); font-style: italic; }
tr.state-detached { opacity: .6; }
.columns { display: grid; grid-template-columns: 1fr 1fr; gap: 0 2rem; }
.topic { display: inline-flex; align-items: center; gap: .2rem; border: 1px solid var(--line); border-radius: .8rem; padding: 0 .5rem; margin: 0 .2rem .2rem 0; }
.topic button { border: 0; background: none; cursor: pointer; color: var(--bad); padding: 0; }
button { font: inherit; cursor: pointer; }
button.disconnect { color: var(--bad); }
.code { margin-right: .6rem; font-variant-numeric: tabular-nums; }
.code-2 { color: var(--good); }
.code-4, .code-5 { color: var(--bad); }
inspector-session { display: block; border: 1px solid var(--line); border-radius: .4rem; padding: 0 1rem 1rem; margin-top: 1rem; }
.close-detail { margin-left: 1rem; }
.tail-status { color: var(--muted); }
ol.frames { list-style: none; margin: 0; padding: 0; max-height: 24rem; overflow: auto; font: 12px/1.4 ui-monospace, monospace; }
ol.frames li { display: grid; grid-template-columns: 6rem 4rem 1fr; gap: .5rem; padding: .1rem 0; border-bottom: 1px solid var(--line); }
ol.frames li.in .direction { color: var(--accent); }
ol.frames li.out .direction { color: var(--good); }
ol.frames code { white-space: pre-wrap; word-break: break-all; }
`;
