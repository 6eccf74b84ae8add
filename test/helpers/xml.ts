/**
 * A strict well-formedness check for the XML sellout writes (no DTDs, CDATA or processing
 * instructions beyond the declaration): balanced tags, quoted unique attributes, only the five
 * predefined entities or character references, no stray `<` or `&`. Returns the elements found so
 * tests can count them. Throws with the offset on the first error.
 */
export interface XmlElement { name: string; attributes: Record<string, string>; text: string; children: XmlElement[] }

const NAME = /[A-Za-z_][\w.-]*/y;
const ENTITY = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/y;

function decode(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_, e: string) =>
    e.startsWith('#x') ? String.fromCodePoint(parseInt(e.slice(2), 16)) : e.startsWith('#') ? String.fromCodePoint(Number(e.slice(1)))
      : ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[e]!);
}

export function parseXml(xml: string): XmlElement {
  let i = 0;
  const fail = (why: string): never => { throw new Error(`XML not well-formed at ${i}: ${why}: ${JSON.stringify(xml.slice(i, i + 40))}`); };
  const ws = () => { while (/\s/.test(xml[i] ?? '')) i++; };
  const name = () => { NAME.lastIndex = i; const m = NAME.exec(xml); if (!m) fail('expected a name'); i += m![0].length; return m![0]; };
  const text = (stop: RegExp) => {
    let out = '';
    while (i < xml.length && !stop.test(xml[i]!)) {
      if (xml[i] === '&') { ENTITY.lastIndex = i; const m = ENTITY.exec(xml); if (!m) fail('bad entity'); out += m![0]; i += m![0].length; continue; }
      if (xml[i] === '<') fail('stray <');
      out += xml[i++];
    }
    return decode(out);
  };
  if (xml.startsWith('<?xml')) { const end = xml.indexOf('?>'); if (end < 0) fail('unterminated declaration'); i = end + 2; }
  const element = (): XmlElement => {
    if (xml[i] !== '<') fail('expected <');
    i++;
    const el: XmlElement = { name: name(), attributes: {}, text: '', children: [] };
    for (;;) {
      ws();
      if (xml.startsWith('/>', i)) { i += 2; return el; }
      if (xml[i] === '>') { i++; break; }
      const attr = name();
      if (attr in el.attributes) fail(`duplicate attribute ${attr}`);
      ws(); if (xml[i] !== '=') fail('expected ='); i++; ws();
      const q = xml[i]; if (q !== '"' && q !== "'") fail('expected a quoted value'); i++;
      el.attributes[attr] = text(q === '"' ? /"/ : /'/); i++;
    }
    for (;;) {
      el.text += text(/</);
      if (i >= xml.length) fail(`unclosed <${el.name}>`);
      if (xml.startsWith('</', i)) {
        i += 2; const close = name(); if (close !== el.name) fail(`</${close}> closes <${el.name}>`);
        ws(); if (xml[i] !== '>') fail('expected >'); i++;
        return el;
      }
      el.children.push(element());
    }
  };
  ws();
  const root = element();
  ws();
  if (i !== xml.length) fail('content after the root element');
  return root;
}

export function findAll(el: XmlElement, name: string): XmlElement[] {
  return [...(el.name === name ? [el] : []), ...el.children.flatMap((c) => findAll(c, name))];
}
