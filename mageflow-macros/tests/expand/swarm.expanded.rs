// flow!(fetch >> [resize, thumbnail >> upload; max_concurrency = 4] >> publish)
fn flow() {
    let _ = {
        #[allow(unused_imports)]
        use ::mageflow::__private_v0_1_0::{
            RouteOfTaskInput as _, RouteOfWholeInput as _,
        };
        #[diagnostic::on_unimplemented(
            message = "`resize` takes `{Self}`, but `fetch` produces `{A}`",
            label = "`resize` does not take `{A}`",
            note = "a step takes the previous step's output as its whole input, or in the \
                                `#[mageflow(return_value)]` field of an input that derives `TaskInput`"
        )]
        trait MageflowStep6<A, R> {}
        impl<T: ::mageflow::__private_v0_1_0::Accepts<A, R>, A, R> MageflowStep6<A, R>
        for T {}
        fn __mageflow_step_6<R, P: ::mageflow::__private_v0_1_0::Produces, B, O>(
            _route: R,
            _producer: &P,
            next: ::mageflow::__private_v0_1_0::Flow<B, O>,
        ) -> ::mageflow::__private_v0_1_0::Flow<
            <P as ::mageflow::__private_v0_1_0::Produces>::Output,
            O,
        >
        where
            B: MageflowStep6<<P as ::mageflow::__private_v0_1_0::Produces>::Output, R>,
        {
            ::mageflow::__private_v0_1_0::retype(next)
        }
        #[diagnostic::on_unimplemented(
            message = "`thumbnail` takes `{Self}`, but `fetch` produces `{A}`",
            label = "`thumbnail` does not take `{A}`",
            note = "a step takes the previous step's output as its whole input, or in the \
                                `#[mageflow(return_value)]` field of an input that derives `TaskInput`"
        )]
        trait MageflowStep10<A, R> {}
        impl<T: ::mageflow::__private_v0_1_0::Accepts<A, R>, A, R> MageflowStep10<A, R>
        for T {}
        fn __mageflow_step_10<R, P: ::mageflow::__private_v0_1_0::Produces, B, O>(
            _route: R,
            _producer: &P,
            next: ::mageflow::__private_v0_1_0::Flow<B, O>,
        ) -> ::mageflow::__private_v0_1_0::Flow<
            <P as ::mageflow::__private_v0_1_0::Produces>::Output,
            O,
        >
        where
            B: MageflowStep10<<P as ::mageflow::__private_v0_1_0::Produces>::Output, R>,
        {
            ::mageflow::__private_v0_1_0::retype(next)
        }
        #[diagnostic::on_unimplemented(
            message = "`upload` takes `{Self}`, but `thumbnail` produces `{A}`",
            label = "`upload` does not take `{A}`",
            note = "a step takes the previous step's output as its whole input, or in the \
                                `#[mageflow(return_value)]` field of an input that derives `TaskInput`"
        )]
        trait MageflowStep15<A, R> {}
        impl<T: ::mageflow::__private_v0_1_0::Accepts<A, R>, A, R> MageflowStep15<A, R>
        for T {}
        fn __mageflow_step_15<R, P: ::mageflow::__private_v0_1_0::Produces, B, O>(
            _route: R,
            _producer: &P,
            next: ::mageflow::__private_v0_1_0::Flow<B, O>,
        ) -> ::mageflow::__private_v0_1_0::Flow<
            <P as ::mageflow::__private_v0_1_0::Produces>::Output,
            O,
        >
        where
            B: MageflowStep15<<P as ::mageflow::__private_v0_1_0::Produces>::Output, R>,
        {
            ::mageflow::__private_v0_1_0::retype(next)
        }
        #[diagnostic::on_unimplemented(
            message = "`publish` takes `{Self}`, but the swarm `[resize, thumbnail >> upload]` produces `{A}`",
            label = "`publish` does not take `{A}`",
            note = "a step takes the previous step's output as its whole input, or in the \
                                `#[mageflow(return_value)]` field of an input that derives `TaskInput`"
        )]
        trait MageflowStep21<A, R> {}
        impl<T: ::mageflow::__private_v0_1_0::Accepts<A, R>, A, R> MageflowStep21<A, R>
        for T {}
        fn __mageflow_step_21<R, P: ::mageflow::__private_v0_1_0::Produces, B, O>(
            _route: R,
            _producer: &P,
            next: ::mageflow::__private_v0_1_0::Flow<B, O>,
        ) -> ::mageflow::__private_v0_1_0::Flow<
            <P as ::mageflow::__private_v0_1_0::Produces>::Output,
            O,
        >
        where
            B: MageflowStep21<<P as ::mageflow::__private_v0_1_0::Produces>::Output, R>,
        {
            ::mageflow::__private_v0_1_0::retype(next)
        }
        let (__mageflow_node1, _) = ::mageflow::__private_v0_1_0::node(fetch);
        let __mageflow_seq2 = ::mageflow::__private_v0_1_0::seq(__mageflow_node1);
        let (__mageflow_node3, __mageflow_binding4) = ::mageflow::__private_v0_1_0::node(
            resize,
        );
        let __mageflow_route5 = (&::mageflow::__private_v0_1_0::RouteProbe::of(
            &__mageflow_node3,
        ))
            .route();
        ::mageflow::__private_v0_1_0::check_ready(
            &__mageflow_route5,
            &__mageflow_binding4,
        );
        let __mageflow_fed6 = __mageflow_step_6(
            __mageflow_route5,
            &__mageflow_seq2,
            __mageflow_node3,
        );
        let (__mageflow_node7, __mageflow_binding8) = ::mageflow::__private_v0_1_0::node(
            thumbnail,
        );
        let __mageflow_route9 = (&::mageflow::__private_v0_1_0::RouteProbe::of(
            &__mageflow_node7,
        ))
            .route();
        ::mageflow::__private_v0_1_0::check_ready(
            &__mageflow_route9,
            &__mageflow_binding8,
        );
        let __mageflow_fed10 = __mageflow_step_10(
            __mageflow_route9,
            &__mageflow_seq2,
            __mageflow_node7,
        );
        let __mageflow_seq11 = ::mageflow::__private_v0_1_0::seq(__mageflow_fed10);
        let (__mageflow_node12, __mageflow_binding13) = ::mageflow::__private_v0_1_0::node(
            upload,
        );
        let __mageflow_route14 = (&::mageflow::__private_v0_1_0::RouteProbe::of(
            &__mageflow_node12,
        ))
            .route();
        ::mageflow::__private_v0_1_0::check_ready(
            &__mageflow_route14,
            &__mageflow_binding13,
        );
        let __mageflow_fed15 = __mageflow_step_15(
            __mageflow_route14,
            &__mageflow_seq11,
            __mageflow_node12,
        );
        let __mageflow_seq11 = ::mageflow::__private_v0_1_0::then(
            __mageflow_seq11,
            __mageflow_fed15,
        );
        let __mageflow_flow16 = ::mageflow::__private_v0_1_0::end(__mageflow_seq11);
        let __mageflow_swarm17 = ::mageflow::__private_v0_1_0::swarm(
            (__mageflow_fed6, __mageflow_flow16),
            ::mageflow::__private_v0_1_0::SwarmOptions {
                max_concurrency: ::core::option::Option::Some(4),
                stop_after_failures: ::core::option::Option::None,
                max_items: ::core::option::Option::None,
            },
        );
        let __mageflow_seq2 = ::mageflow::__private_v0_1_0::then(
            __mageflow_seq2,
            __mageflow_swarm17,
        );
        let (__mageflow_node18, __mageflow_binding19) = ::mageflow::__private_v0_1_0::node(
            publish,
        );
        let __mageflow_route20 = (&::mageflow::__private_v0_1_0::RouteProbe::of(
            &__mageflow_node18,
        ))
            .route();
        ::mageflow::__private_v0_1_0::check_ready(
            &__mageflow_route20,
            &__mageflow_binding19,
        );
        let __mageflow_fed21 = __mageflow_step_21(
            __mageflow_route20,
            &__mageflow_seq2,
            __mageflow_node18,
        );
        let __mageflow_seq2 = ::mageflow::__private_v0_1_0::then(
            __mageflow_seq2,
            __mageflow_fed21,
        );
        let __mageflow_flow22 = ::mageflow::__private_v0_1_0::end(__mageflow_seq2);
        let __mageflow_flow23 = __mageflow_flow22;
        __mageflow_flow23
    };
}
