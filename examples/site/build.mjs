// An example page from thumbgen's manifest (version 2): one figure per
// source, with the picture snippet thumbgen wrote for it.
//
//   node examples/site/build.mjs MANIFEST.json OUT.html
//
// Plain Node, no dependencies. The snippets' URLs are used as they are, so
// OUT.html must sit where `url_prefix` resolves from (with the example
// config, `url_prefix = "thumbs/"` and the page beside the thumbs folder).

import { readFileSync, writeFileSync } from 'node:fs';

const PREFERRED_VARIANT = 'photo';

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// The placeholder goes into a style attribute: only values of the shapes
// the manifest promises are let through, so none can break out of it.
function placeholderStyle(placeholder = {}) {
  const rules = [];
  if (/^#[0-9a-f]{6}$/i.test(placeholder.color ?? '')) {
    rules.push(`background-color:${placeholder.color}`);
  }
  if (/^data:image\/[a-z+.-]+;base64,[A-Za-z0-9+/]*={0,2}$/.test(placeholder.data_url ?? '')) {
    rules.push(`background-image:url(${placeholder.data_url})`);
  }
  return rules.join(';');
}

function figure(path, source) {
  const pictures = source.picture ?? {};
  const snippet = pictures[PREFERRED_VARIANT] ?? Object.values(pictures)[0];
  if (snippet === undefined) return null;
  const style = placeholderStyle(source.placeholder);
  return [
    '<li><figure>',
    `<div class="frame"${style ? ` style="${escapeHtml(style)}"` : ''}>${snippet}</div>`,
    `<figcaption>${escapeHtml(path)}</figcaption>`,
    '</figure></li>',
  ].join('');
}

function fill(template, values) {
  return template.replace(/\{\{(\w+)\}\}/g, (match, key) => {
    if (!(key in values)) throw new Error(`template: no value for ${match}`);
    return values[key];
  });
}

function main([manifestPath, outPath, ...rest]) {
  if (!manifestPath || !outPath || rest.length > 0) {
    console.error('usage: node examples/site/build.mjs MANIFEST.json OUT.html');
    return 2;
  }
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  if (manifest.version !== 2) {
    console.error(`${manifestPath}: manifest version ${manifest.version}, expected 2`);
    return 1;
  }
  const figures = Object.entries(manifest.sources ?? {})
    .map(([path, source]) => figure(path, source))
    .filter((html) => html !== null);
  const template = readFileSync(new URL('template.html', import.meta.url), 'utf8');
  const page = fill(template, {
    title: 'thumbgen example',
    count: figures.length === 1 ? '1 photo' : `${figures.length} photos`,
    figures: figures.join('\n'),
  });
  writeFileSync(outPath, page);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
