"""{% fragment "name" value … %}…{% endfragment %}: a part of the layout rendered once per process and
reused while the values it names stay the same.

The layout's header, category bar and footer hold dozens of translated strings and links, and cost
more to render than the rows of a product page. They are the same for every page that shows the
same shop settings version, catalog, language and the few values named, so a page rendered afresh
(a product page not cached yet, a refused checkout) takes them from here. Only parts that hold
nothing of one visitor belong in a fragment: no CSRF token, no address, nothing from the session.
While the shared cache is unreachable a fragment is rendered every time, as the versions that key it
are read from it.
"""

import hashlib

from django import template
from django.utils.translation import get_language

from kamen.cache import LocalCopies, shared_cache_available

register = template.Library()

FRAGMENT_SECONDS = 300  # the values in a key name what the fragment shows; this bounds only memory
_copies = LocalCopies(size=2000, seconds=FRAGMENT_SECONDS)


class FragmentNode(template.Node):
    def __init__(self, name: str, values: list[template.base.FilterExpression], nodelist: template.NodeList):
        self.name = name
        self.values = values
        self.nodelist = nodelist

    def render(self, context) -> str:
        if not shared_cache_available():
            return self.nodelist.render(context)
        named = "\x1f".join(str(value.resolve(context)) for value in self.values)
        key = f"fragment:{self.name}:{get_language() or ''}:{hashlib.sha256(named.encode()).hexdigest()[:32]}"
        html = _copies.get(key)
        if html is None:
            html = self.nodelist.render(context)
            _copies.set(key, html, FRAGMENT_SECONDS)
        return html


@register.tag
def fragment(parser, token) -> FragmentNode:
    bits = token.split_contents()
    if len(bits) < 2 or bits[1][0] not in "\"'" or bits[1][-1] != bits[1][0]:
        raise template.TemplateSyntaxError("{% fragment %} takes a quoted name, then the values that key it")
    nodelist = parser.parse(("endfragment",))
    parser.delete_first_token()
    return FragmentNode(bits[1][1:-1], [parser.compile_filter(bit) for bit in bits[2:]], nodelist)
