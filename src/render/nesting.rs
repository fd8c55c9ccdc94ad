//! How deeply an HTML document nests its elements, measured before anything walks its tree.
//!
//! The tools that inline CSS and convert HTML to text walk the document tree recursively, so
//! a body of a few thousand nested `<div>`s (or Markdown blockquotes, which become nested
//! `<blockquote>`s) overflows a thread's stack, and a stack overflow aborts the whole process:
//! no panic handler catches it. Every document bulten is about to hand to those tools is
//! measured here first and refused past [`MAX_NESTING`].
//!
//! The depth is that of the tree an HTML parser builds, not a count of tags: `<p>` and `<li>`
//! without end tags close themselves, and unclosed tags at the end close too, so sloppy but
//! ordinary HTML is never refused. html5ever's tree builder is iterative and keeps its open
//! elements on the heap; the sink below only records each node's parent by number, and the
//! depth is computed from those links without recursion.

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;

use html5ever::interface::{ElementFlags, NodeOrText, QuirksMode, TreeSink};
use html5ever::tendril::{StrTendril, TendrilSink as _};
use html5ever::{Attribute, QualName};

/// The deepest element nesting bulten processes. Real newsletters nest tables a few dozen
/// levels at most; the tree walkers stay well inside a 2 MiB thread stack at this depth.
pub(super) const MAX_NESTING: usize = 256;
/// The most elements one document may make. The parser makes elements nobody wrote (it
/// reopens every unclosed `<b>` after each block), and a short body can make millions;
/// newsletters have a few thousand.
pub(super) const MAX_ELEMENTS: usize = 100_000;
/// Elements the parser may add for one tag it reads (`<td>` alone opens `table`, `tbody`,
/// `tr` around itself), plus `html` and `body`: what a document of few tags can reach.
const IMPLIED_PER_TAG: usize = 4;

/// Whether `html` nests elements deeper than [`MAX_NESTING`] or makes more than
/// [`MAX_ELEMENTS`] of them.
pub(super) fn too_deep(html: &str) -> bool {
    // A document of few tags cannot get there: most pass without being parsed.
    if html.matches('<').count() * IMPLIED_PER_TAG + 2 <= MAX_NESTING {
        return false;
    }
    measure(html).is_none_or(|depth| depth > MAX_NESTING)
}

/// The element nesting depth of `html` parsed as a document (`<html>` is 1); `None` when it
/// makes more than [`MAX_ELEMENTS`] elements.
pub(super) fn measure(html: &str) -> Option<usize> {
    html5ever::parse_document(Arena::default(), Default::default()).one(html)
}

/// The parse tree reduced to parent links, by node number: node 0 is the document.
#[derive(Default)]
struct Arena {
    links: RefCell<Vec<Link>>,
    /// Past [`MAX_ELEMENTS`]: nothing more is recorded, and the answer is `None`.
    overflowed: std::cell::Cell<bool>,
}

#[derive(Default)]
struct Link {
    parent: Option<usize>,
    /// Nodes appended here; one that has moved on since is skipped by its parent link.
    children: Vec<usize>,
}

/// A node as the tree builder holds it: its number, and its name to answer `elem_name`.
#[derive(Debug)]
struct Handle {
    id: usize,
    name: QualName,
}

type Node = Rc<Handle>;

impl Arena {
    fn add(&self, name: QualName) -> Node {
        let mut links = self.links.borrow_mut();
        if links.is_empty() {
            links.push(Link::default());
        }
        if links.len() > MAX_ELEMENTS {
            // Every further node shares one number whose links are never followed.
            self.overflowed.set(true);
            return Rc::new(Handle { id: 0, name });
        }
        links.push(Link::default());
        Rc::new(Handle {
            id: links.len() - 1,
            name,
        })
    }

    fn set_parent(&self, child: NodeOrText<Node>, parent: Option<usize>) {
        if self.overflowed.get() {
            return;
        }
        if let NodeOrText::AppendNode(child) = child {
            let mut links = self.links.borrow_mut();
            links[child.id].parent = parent;
            if let Some(parent) = parent {
                links[parent].children.push(child.id);
            }
        }
    }

    fn parent_of(&self, node: usize) -> Option<usize> {
        self.links.borrow().get(node).and_then(|n| n.parent)
    }
}

fn unnamed() -> QualName {
    QualName::new(None, html5ever::ns!(), html5ever::local_name!(""))
}

impl TreeSink for Arena {
    type Handle = Node;
    type Output = Option<usize>;
    type ElemName<'a> = &'a QualName;

    fn finish(self) -> Option<usize> {
        if self.overflowed.get() {
            return None;
        }
        let links = self.links.into_inner();
        // Each node's depth is its parent's plus one, found by walking up to a node whose
        // depth is known (or a root, at 0) and filling in the path on the way back down.
        let mut depths: Vec<Option<usize>> = vec![None; links.len()];
        let mut deepest = 0;
        for start in 0..links.len() {
            let mut path = Vec::new();
            let mut at = start;
            let known = loop {
                if let Some(depth) = depths[at] {
                    break Some(depth);
                }
                path.push(at);
                match links[at].parent {
                    Some(parent) if path.len() <= links.len() => at = parent,
                    _ => break None,
                }
            };
            let first = known.map_or(0, |d| d + 1);
            for (depth, node) in (first..).zip(path.into_iter().rev()) {
                depths[node] = Some(depth);
                deepest = deepest.max(depth);
            }
        }
        Some(deepest)
    }

    fn parse_error(&self, _msg: Cow<'static, str>) {}

    fn get_document(&self) -> Node {
        let mut links = self.links.borrow_mut();
        if links.is_empty() {
            links.push(Link::default());
        }
        Rc::new(Handle {
            id: 0,
            name: unnamed(),
        })
    }

    fn elem_name<'a>(&'a self, target: &'a Node) -> &'a QualName {
        &target.name
    }

    fn create_element(&self, name: QualName, _: Vec<Attribute>, _: ElementFlags) -> Node {
        self.add(name)
    }

    fn create_comment(&self, _: StrTendril) -> Node {
        self.add(unnamed())
    }

    fn create_pi(&self, _: StrTendril, _: StrTendril) -> Node {
        self.add(unnamed())
    }

    fn append(&self, parent: &Node, child: NodeOrText<Node>) {
        self.set_parent(child, Some(parent.id));
    }

    fn append_based_on_parent_node(
        &self,
        element: &Node,
        prev_element: &Node,
        child: NodeOrText<Node>,
    ) {
        if self.parent_of(element.id).is_some() {
            self.append_before_sibling(element, child);
        } else {
            self.append(prev_element, child);
        }
    }

    fn append_doctype_to_document(&self, _: StrTendril, _: StrTendril, _: StrTendril) {}

    fn get_template_contents(&self, target: &Node) -> Node {
        // A template's contents count as its children.
        target.clone()
    }

    fn same_node(&self, x: &Node, y: &Node) -> bool {
        x.id == y.id
    }

    fn set_quirks_mode(&self, _: QuirksMode) {}

    fn append_before_sibling(&self, sibling: &Node, new_node: NodeOrText<Node>) {
        let parent = self.parent_of(sibling.id);
        self.set_parent(new_node, parent);
    }

    fn add_attrs_if_missing(&self, _: &Node, _: Vec<Attribute>) {}

    fn remove_from_parent(&self, target: &Node) {
        if !self.overflowed.get() {
            self.links.borrow_mut()[target.id].parent = None;
        }
    }

    fn reparent_children(&self, node: &Node, new_parent: &Node) {
        if self.overflowed.get() {
            return;
        }
        let mut links = self.links.borrow_mut();
        let children = std::mem::take(&mut links[node.id].children);
        for child in children {
            if links[child].parent == Some(node.id) {
                links[child].parent = Some(new_parent.id);
                links[new_parent.id].children.push(child);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(tag: &str, n: usize) -> String {
        format!(
            "{}x{}",
            format!("<{tag}>").repeat(n),
            format!("</{tag}>").repeat(n)
        )
    }

    #[test]
    fn depth_counts_the_tree_not_the_tags() {
        // html > body > div > div
        let depth = |html: &str| measure(html).unwrap();
        assert_eq!(depth("<div><div>x</div></div>"), 4);
        // Unclosed paragraphs and list items close themselves: siblings, not a staircase.
        let paragraphs = "<p>a".repeat(1_000);
        assert_eq!(depth(&paragraphs), 3);
        let items = format!("<ul>{}</ul>", "<li>a".repeat(1_000));
        assert_eq!(depth(&items), 4);
        assert!(!too_deep(&paragraphs));
    }

    #[test]
    fn thousands_of_nested_elements_are_too_deep() {
        assert!(too_deep(&nested("div", 3_000)));
        assert!(too_deep(&"<div>".repeat(3_000)), "unclosed tags nest too");
        assert!(!too_deep(&nested("div", MAX_NESTING - 10)));
    }

    #[test]
    fn elements_the_parser_adds_count_too() {
        // 256 tags, twice as many levels: each <td> opens a table body and a row.
        let tables = "<table><td>".repeat(128);
        assert!(measure(&tables).unwrap() > 500);
        assert!(too_deep(&tables));
    }

    #[test]
    fn a_short_body_that_makes_millions_of_elements_is_refused() {
        // The formatting elements the paragraph's end closed stay active, and the parser
        // reopens all of them for the text of every block after: 300 elements per block.
        let formatting: String = (0..300).map(|i| format!("<b class=c{i}>")).collect();
        let html = format!("<p>{formatting}</p>{}", "<div>x</div>".repeat(2_000));
        assert_eq!(measure(&html), None);
        assert!(too_deep(&html));
    }

    #[test]
    fn the_deepest_allowed_document_is_processed_on_a_small_stack() {
        // What the tools can take at the limit, on a stack the size of a worker thread's.
        let divs = nested("div", MAX_NESTING - 2);
        // Tables at the limit too: html, body, then table > tbody > tr > td per level.
        let tables = format!(
            "{}x{}",
            "<table><tr><td>".repeat((MAX_NESTING - 2) / 4),
            "</td></tr></table>".repeat((MAX_NESTING - 2) / 4)
        );
        for html in [divs, tables] {
            assert!(!too_deep(&html));
            std::thread::Builder::new()
                .stack_size(2 << 20)
                .spawn(move || {
                    super::super::inline_css(&html).expect("inlined");
                    super::super::html_to_text(&html).expect("converted");
                })
                .unwrap()
                .join()
                .expect("no overflow at the limit");
        }
    }
}
