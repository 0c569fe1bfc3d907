//! [`IntoNodes`]: what a chain's steps or a swarm's items can be given as — an array or a `Vec` of one kind of node,
//! or a tuple of up to twelve different ones (tasks of different types, chains, swarms), with no conversions.

use super::node::Node;

/// Steps of a chain or items of a swarm: `[a, b]`, `vec![a, b]`, or `(task_a, task_b, a_chain)` when they differ in
/// type. An iterator of nodes is `collect`ed into a `Vec` first.
pub trait IntoNodes {
    /// The nodes, in order.
    fn into_nodes(self) -> Vec<Node>;
}

impl<N: Into<Node>> IntoNodes for Vec<N> {
    fn into_nodes(self) -> Vec<Node> {
        self.into_iter().map(Into::into).collect()
    }
}

impl<N: Into<Node>, const K: usize> IntoNodes for [N; K] {
    fn into_nodes(self) -> Vec<Node> {
        self.into_iter().map(Into::into).collect()
    }
}

macro_rules! tuple_nodes {
    ($($name:ident)+) => {
        impl<$($name: Into<Node>),+> IntoNodes for ($($name,)+) {
            #[allow(non_snake_case)]
            fn into_nodes(self) -> Vec<Node> {
                let ($($name,)+) = self;
                vec![$($name.into()),+]
            }
        }
    };
}

tuple_nodes!(A);
tuple_nodes!(A B);
tuple_nodes!(A B C);
tuple_nodes!(A B C D);
tuple_nodes!(A B C D E);
tuple_nodes!(A B C D E F);
tuple_nodes!(A B C D E F G);
tuple_nodes!(A B C D E F G H);
tuple_nodes!(A B C D E F G H I);
tuple_nodes!(A B C D E F G H I J);
tuple_nodes!(A B C D E F G H I J K);
tuple_nodes!(A B C D E F G H I J K L);
