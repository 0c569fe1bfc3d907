// flow!(extract >> (clean >> dedupe) >> { load_flow(day) })
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
            message = "`dedupe` takes `{Self}`, but `clean` produces `{A}`",
            label = "`dedupe` does not take `{A}`",
            note = "a step takes the previous step's output as its whole input, or in the \
                                `#[mageflow(return_value)]` field of an input that derives `TaskInput`"
        )]
        trait MageflowStep11<A, R> {}
        impl<T: ::mageflow::__private_v0_1_0::Accepts<A, R>, A, R> MageflowStep11<A, R>
        for T {}
        fn __mageflow_step_11<R, P: ::mageflow::__private_v0_1_0::Produces, B, O>(
            _route: R,
            _producer: &P,
            next: ::mageflow::__private_v0_1_0::Flow<B, O>,
        ) -> ::mageflow::__private_v0_1_0::Flow<
            <P as ::mageflow::__private_v0_1_0::Produces>::Output,
            O,
        >
        where
            B: MageflowStep11<<P as ::mageflow::__private_v0_1_0::Produces>::Output, R>,
        {
            ::mageflow::__private_v0_1_0::retype(next)
        }
        #[diagnostic::on_unimplemented(
            message = "`{{ load_flow (day) }}` takes `{Self}`, but `dedupe` produces `{A}`",
            label = "`{{ load_flow (day) }}` does not take `{A}`",
            note = "a step takes the previous step's output as its whole input, or in the \
                                `#[mageflow(return_value)]` field of an input that derives `TaskInput`"
        )]
        trait MageflowStep16<A, R> {}
        impl<T: ::mageflow::__private_v0_1_0::Accepts<A, R>, A, R> MageflowStep16<A, R>
        for T {}
        fn __mageflow_step_16<R, P: ::mageflow::__private_v0_1_0::Produces, B, O>(
            _route: R,
            _producer: &P,
            next: ::mageflow::__private_v0_1_0::Flow<B, O>,
        ) -> ::mageflow::__private_v0_1_0::Flow<
            <P as ::mageflow::__private_v0_1_0::Produces>::Output,
            O,
        >
        where
            B: MageflowStep16<<P as ::mageflow::__private_v0_1_0::Produces>::Output, R>,
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
        let __mageflow_seq7 = ::mageflow::__private_v0_1_0::seq(__mageflow_fed6);
        let (__mageflow_node8, __mageflow_binding9) = ::mageflow::__private_v0_1_0::node(
            dedupe,
        );
        let __mageflow_route10 = (&::mageflow::__private_v0_1_0::RouteProbe::of(
            &__mageflow_node8,
        ))
            .route();
        ::mageflow::__private_v0_1_0::check_ready(
            &__mageflow_route10,
            &__mageflow_binding9,
        );
        let __mageflow_fed11 = __mageflow_step_11(
            __mageflow_route10,
            &__mageflow_seq7,
            __mageflow_node8,
        );
        let __mageflow_seq7 = ::mageflow::__private_v0_1_0::then(
            __mageflow_seq7,
            __mageflow_fed11,
        );
        let __mageflow_flow12 = ::mageflow::__private_v0_1_0::end(__mageflow_seq7);
        let __mageflow_seq2 = ::mageflow::__private_v0_1_0::then(
            __mageflow_seq2,
            __mageflow_flow12,
        );
        let (__mageflow_node13, __mageflow_binding14) = ::mageflow::__private_v0_1_0::node({
            load_flow(day)
        });
        let __mageflow_route15 = (&::mageflow::__private_v0_1_0::RouteProbe::of(
            &__mageflow_node13,
        ))
            .route();
        ::mageflow::__private_v0_1_0::check_ready(
            &__mageflow_route15,
            &__mageflow_binding14,
        );
        let __mageflow_fed16 = __mageflow_step_16(
            __mageflow_route15,
            &__mageflow_seq2,
            __mageflow_node13,
        );
        let __mageflow_seq2 = ::mageflow::__private_v0_1_0::then(
            __mageflow_seq2,
            __mageflow_fed16,
        );
        let __mageflow_flow17 = ::mageflow::__private_v0_1_0::end(__mageflow_seq2);
        let __mageflow_flow18 = __mageflow_flow17;
        __mageflow_flow18
    };
}
