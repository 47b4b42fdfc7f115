"""The SOQL grammar (lark, LALR) and the shared parser instance.

The grammar lives in a Python string rather than a ``.lark`` file so it ships with the package without
package-data configuration. It is deliberately a little wider than what the compiler accepts
(any ``NAME(...)`` call, any mode clause in any order): parsing those gives the compiler a node with
an exact position, so it can say *which* construct is wrong instead of failing on the token after it.

Keywords are case-insensitive. ``NAME`` never matches Salesforce's reserved words (FROM, WHERE,
LIMIT, ...), so ``SELECT FROM Account`` fails at ``FROM``; other keywords (ORDER, OFFSET) are turned
into keywords only where one is acceptable (lark's contextual lexer), so an object called ``Order``
still works after ``FROM``. ``ALIAS`` refuses more words, so ``FROM Account GROUP BY`` fails at
``GROUP`` rather than taking ``GROUP`` as an alias.

SOQL does not let AND and OR be mixed without parentheses (``a AND b OR c`` is MALFORMED_QUERY in
Salesforce), so a condition is either an AND-chain or an OR-chain of unary conditions.
"""

from __future__ import annotations

from functools import cache

from lark import Lark

# Salesforce's reserved words: never a field, object or alias name.
NAME_EXCLUDED = ("and", "asc", "desc", "excludes", "first", "from", "having", "in", "includes",
                 "last", "like", "limit", "not", "nulls", "or", "select", "typeof", "where", "with")
# Words that also cannot be an alias (they may follow the FROM object).
RESERVED_WORDS = (
    "and", "as", "asc", "by", "cube", "desc", "else", "end", "excludes", "first", "for", "from", "group",
    "having", "in", "includes", "last", "like", "limit", "not", "null", "nulls", "offset", "or", "order",
    "rollup", "select", "then", "typeof", "update", "using", "when", "where", "with", "tracking",
    "viewstat", "reference", "view", "scope", "format", "true", "false",
)

GRAMMAR = r"""
start: query

query: SELECT select_list FROM object_ref [where_clause] [group_clause] [having_clause] [order_clause] \
       [limit_clause] [offset_clause] mode_clause*

select_list: select_item ("," select_item)*
?select_item: field_path
            | func_expr [ALIAS]     -> select_func
            | "(" query ")"         -> select_subquery
            | TYPEOF field_path when_clause+ [else_clause] END -> select_typeof
when_clause: WHEN NAME THEN field_list
else_clause: ELSE field_list
field_list: field_path ("," field_path)*

func_expr: NAME "(" [field_path ("," field_path)*] ")"
field_path: NAME ("." NAME)*

object_ref: NAME [ALIAS]

where_clause: WHERE condition

?condition: unary
          | unary (AND unary)+      -> and_cond
          | unary (OR unary)+       -> or_cond
?unary: NOT unary                   -> not_cond
      | "(" condition ")"
      | comparison

?operand: field_path | func_expr

comparison: operand COMP_OP value                        -> compare
          | operand LIKE value                           -> like
          | operand IN "(" value_list ")"                -> in_list
          | operand NOT IN "(" value_list ")"            -> not_in_list
          | operand IN "(" query ")"                     -> in_query
          | operand NOT IN "(" query ")"                 -> not_in_query
          | operand INCLUDES "(" value_list ")"          -> includes
          | operand EXCLUDES "(" value_list ")"          -> excludes

value_list: value ("," value)*
?value: STRING       -> string
      | NUMBER       -> number
      | DATETIME     -> datetime
      | DATE         -> date
      | NAME [":" NUMBER]  -> word

group_clause: GROUP BY field_path ("," field_path)*
having_clause: HAVING condition
mode_clause: FOR VIEW | FOR REFERENCE | FOR UPDATE | UPDATE TRACKING | UPDATE VIEWSTAT

order_clause: ORDER BY order_item ("," order_item)*
order_item: (field_path | func_expr) [direction] [NULLS nulls_position]
direction: ASC | DESC
nulls_position: FIRST | LAST

limit_clause: LIMIT NUMBER
offset_clause: OFFSET NUMBER

SELECT: "select"i
FROM: "from"i
WHERE: "where"i
AND: "and"i
OR: "or"i
NOT: "not"i
LIKE: "like"i
IN: "in"i
INCLUDES: "includes"i
EXCLUDES: "excludes"i
ORDER: "order"i
BY: "by"i
ASC: "asc"i
DESC: "desc"i
NULLS: "nulls"i
FIRST: "first"i
LAST: "last"i
LIMIT: "limit"i
OFFSET: "offset"i
GROUP: "group"i
HAVING: "having"i
TYPEOF: "typeof"i
WHEN: "when"i
THEN: "then"i
ELSE: "else"i
END: "end"i
FOR: "for"i
VIEW: "view"i
REFERENCE: "reference"i
UPDATE: "update"i
TRACKING: "tracking"i
VIEWSTAT: "viewstat"i

COMP_OP: "=" | "!=" | "<>" | "<=" | ">=" | "<" | ">"
NAME: /(?!(?:__EXCLUDED__)\b)[a-z_][a-z0-9_]*/i
ALIAS.2: /(?!(?:__RESERVED__)\b)[a-z_][a-z0-9_]*/i
STRING: /'(?:[^'\\]|\\.)*'/s
DATETIME.4: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})/i
DATE.3: /\d{4}-\d{2}-\d{2}(?![0-9T:])/i
NUMBER.2: /[+-]?(?:\d+(?:\.\d*)?|\.\d+)/

%import common.WS
%ignore WS
""".replace("__RESERVED__", "|".join(RESERVED_WORDS)).replace("__EXCLUDED__", "|".join(NAME_EXCLUDED))


@cache
def soql_parser() -> Lark:
    """Built once per process: constructing the LALR tables costs tens of milliseconds."""
    return Lark(GRAMMAR, parser="lalr", lexer="contextual", propagate_positions=True,
                maybe_placeholders=True)
