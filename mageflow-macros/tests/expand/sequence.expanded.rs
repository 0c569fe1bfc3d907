// flow!(extract >> clean >> load)
fn flow() {
    let _ = {
        #[allow(unused_imports)]
        use ::mageflow::__private_v0_1_0::{
            RouteOfTaskInput as _, RouteOfWholeInput as _,
        };
        #[diagnostic::on_unimplemented(
            message = "`clean` takes `{Self}`, but `extract` produces `{A}`",
            label = "`clean` does not take `{A}`",
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
            message = "`load` takes `{Self}`, but `clean` produces `{A}`",
            label = "`load` does not take `{A}`",
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
        let (__mageflow_node1, _) = ::mageflow::__private_v0_1_0::node(extract);
        let __mageflow_seq2 = ::mageflow::__private_v0_1_0::seq(__mageflow_node1);
        let (__mageflow_node3, __mageflow_binding4) = ::mageflow::__private_v0_1_0::node(
            clean,
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
        let __mageflow_seq2 = ::mageflow::__private_v0_1_0::then(
            __mageflow_seq2,
            __mageflow_fed6,
        );
        let (__mageflow_node7, __mageflow_binding8) = ::mageflow::__private_v0_1_0::node(
            load,
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
        let __mageflow_seq2 = ::mageflow::__private_v0_1_0::then(
            __mageflow_seq2,
            __mageflow_fed10,
        );
        let __mageflow_flow11 = ::mageflow::__private_v0_1_0::end(__mageflow_seq2);
        let __mageflow_flow12 = __mageflow_flow11;
        __mageflow_flow12
    };
}
