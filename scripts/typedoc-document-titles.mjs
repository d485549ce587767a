// TypeDoc plugin for the project documents (typedoc.json's projectDocuments): each is shown under
// its first `# ` heading instead of its path ("docs_architecture"), while its page keeps the
// path-derived file name (set before the renderer's BEGIN event), so URLs stay short and stable.
// A document without a `group` in front matter goes under "Reference". So docs/*.md and the
// READMEs need no front matter, which GitHub would show as a table.
import { Converter, ReflectionKind, Renderer } from 'typedoc';

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_CREATE_DOCUMENT, (_context, doc) => {
    doc.frontmatter.group ??= 'Reference';
  });
  app.renderer.on(Renderer.EVENT_BEGIN, (event) => {
    for (const doc of event.project.getReflectionsByKind(ReflectionKind.Document)) {
      const heading = /^# +(.+)$/m.exec(doc.content.map((part) => part.text).join(''));
      if (heading) doc.name = heading[1].replace(/`/g, '').trim();
    }
  });
}
