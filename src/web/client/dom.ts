/** The page's elements by id: the markup (../static/index.html) and the panels must agree on the ids. */

export function element<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`dashboard markup lacks #${id}`);
  return found as T;
}
