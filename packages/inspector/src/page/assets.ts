/** The page, its script and its style, served as they are: no build step. */
export { INSPECTOR_SCRIPT } from './inspector-script.ts';
export { INSPECTOR_STYLE } from './inspector-style.ts';

const escapeAttribute = (text: string): string => text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/** The page under `path`: a shell that loads the script; it holds no data. */
export function INSPECTOR_PAGE(path: string): string {
  const base = escapeAttribute(path);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Herald inspector</title>
<link rel="stylesheet" href="${base}/inspector.css">
<script type="module" src="${base}/inspector.js"></script>
</head>
<body>
<herald-inspector data-api="${base}/api"></herald-inspector>
</body>
</html>
`;
}
