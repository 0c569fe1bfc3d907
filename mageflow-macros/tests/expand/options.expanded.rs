// flow!(extract >> load, name = "etl", on_success = notify.bind(to = "ops") >> archive, on_error = alert)
fn flow() {
    let _ = {
        #[allow(unused_imports)]
        use ::mageflow::__private_v0_1_0::{
            RouteOfTaskInput as _, RouteOfWholeInput as _,
        };
        #[diagnostic::on_unimplemented(
            message = "`load` takes `{Self}`, but `extract` produces `{A}`",
            label = "`load` does not take `{A}`",
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
            message = "`notify.bind(to = ..)`: the field `to` takes `{F}`, but this value is `{Self}`",
            label = "expected `{F}`"
        )]
        trait MageflowBind11<F, K> {}
        impl<V: ::mageflow::__private_v0_1_0::BindAs<F, K>, F, K> MageflowBind11<F, K>
        for V {}
        fn __mageflow_bind_11<I, O, S, M, F, V, K>(
            binder: ::mageflow::__private_v0_1_0::Binder<I, O, S>,
            slot: ::mageflow::__private_v0_1_0::Slot<M, F>,
            value: V,
        ) -> ::mageflow::__private_v0_1_0::Binder<
            I,
            O,
            <S as ::mageflow::__private_v0_1_0::BindField<M>>::Next,
        >
        where
            S: ::mageflow::__private_v0_1_0::BindField<M>,
            V: MageflowBind11<F, K> + ::mageflow::__private_v0_1_0::serde::Serialize,
        {
            ::mageflow::__private_v0_1_0::bind(binder, slot, &value)
        }
        #[diagnostic::on_unimplemented(
            message = "`notify` takes `{Self}`, but the flow produces `{A}`",
            label = "`notify` does not take `{A}`",
            note = "a step takes the previous step's output as its whole input, or in the \
                                `#[mageflow(return_value)]` field of an input that derives `TaskInput`"
        )]
        trait MageflowStep14<A, R> {}
        impl<T: ::mageflow::__private_v0_1_0::Accepts<A, R>, A, R> MageflowStep14<A, R>
        for T {}
        fn __mageflow_step_14<R, P: ::mageflow::__private_v0_1_0::Produces, B, O>(
            _route: R,
            _producer: &P,
            next: ::mageflow::__private_v0_1_0::Flow<B, O>,
        ) -> ::mageflow::__private_v0_1_0::Flow<
            <P as ::mageflow::__private_v0_1_0::Produces>::Output,
            O,
        >
        where
            B: MageflowStep14<<P as ::mageflow::__private_v0_1_0::Produces>::Output, R>,
        {
            ::mageflow::__private_v0_1_0::retype(next)
        }
        #[diagnostic::on_unimplemented(
            message = "`archive` takes `{Self}`, but `notify` produces `{A}`",
            label = "`archive` does not take `{A}`",
            note = "a step takes the previous step's output as its whole input, or in the \
                                `#[mageflow(return_value)]` field of an input that derives `TaskInput`"
        )]
        trait MageflowStep19<A, R> {}
        impl<T: ::mageflow::__private_v0_1_0::Accepts<A, R>, A, R> MageflowStep19<A, R>
        for T {}
        fn __mageflow_step_19<R, P: ::mageflow::__private_v0_1_0::Produces, B, O>(
            _route: R,
            _producer: &P,
            next: ::mageflow::__private_v0_1_0::Flow<B, O>,
        ) -> ::mageflow::__private_v0_1_0::Flow<
            <P as ::mageflow::__private_v0_1_0::Produces>::Output,
            O,
        >
        where
            B: MageflowStep19<<P as ::mageflow::__private_v0_1_0::Produces>::Output, R>,
        {
            ::mageflow::__private_v0_1_0::retype(next)
        }
        #[diagnostic::on_unimplemented(
            message = "`alert` takes `{Self}`, but an error callback receives a failure report (`mageflow::Failure`)",
            label = "`alert` does not take a `Failure`",
            note = "an error callback takes `mageflow::Failure<I>` (`I` the failed task's input, or \
                                `serde_json::Value`) as its whole input, or in its `#[mageflow(return_value)]` field"
        )]
        trait MageflowOnError24<R, X> {}
        impl<
            T: ::mageflow::__private_v0_1_0::AcceptsFailure<R, X>,
            R,
            X,
        > MageflowOnError24<R, X> for T {}
        fn __mageflow_on_error_24<R, X, B, O>(
            _route: R,
            next: ::mageflow::__private_v0_1_0::Flow<B, O>,
        ) -> ::mageflow::__private_v0_1_0::Flow<
            ::mageflow::__private_v0_1_0::Failure<
                ::mageflow::__private_v0_1_0::serde_json::Value,
            >,
            O,
        >
        where
            B: MageflowOnError24<R, X>,
        {
            ::mageflow::__private_v0_1_0::retype(next)
        }
        let (__mageflow_node1, _) = ::mageflow::__private_v0_1_0::node(extract);
        let __mageflow_seq2 = ::mageflow::__private_v0_1_0::seq(__mageflow_node1);
        let (__mageflow_node3, __mageflow_binding4) = ::mageflow::__private_v0_1_0::node(
            load,
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
        let __mageflow_flow7 = ::mageflow::__private_v0_1_0::end(__mageflow_seq2);
        let __mageflow_flow8 = __mageflow_flow7;
        let __mageflow_flow8 = ::mageflow::__private_v0_1_0::named(
            __mageflow_flow8,
            "etl",
        );
        let (__mageflow_fields9, __mageflow_binder10) = ::mageflow::__private_v0_1_0::bind_start(
            notify,
        );
        let __mageflow_binder10 = __mageflow_bind_11(
            __mageflow_binder10,
            __mageflow_fields9.to,
            "ops",
        );
        let __mageflow_route13 = (&::mageflow::__private_v0_1_0::RouteProbe::of(
            &__mageflow_binder10,
        ))
            .route();
        ::mageflow::__private_v0_1_0::check_ready(
            &__mageflow_route13,
            &__mageflow_binder10.binding(),
        );
        let __mageflow_node12 = ::mageflow::__private_v0_1_0::bound(__mageflow_binder10);
        let __mageflow_fed14 = __mageflow_step_14(
            __mageflow_route13,
            &__mageflow_flow8,
            __mageflow_node12,
        );
        let __mageflow_seq15 = ::mageflow::__private_v0_1_0::seq(__mageflow_fed14);
        let (__mageflow_node16, __mageflow_binding17) = ::mageflow::__private_v0_1_0::node(
            archive,
        );
        let __mageflow_route18 = (&::mageflow::__private_v0_1_0::RouteProbe::of(
            &__mageflow_node16,
        ))
            .route();
        ::mageflow::__private_v0_1_0::check_ready(
            &__mageflow_route18,
            &__mageflow_binding17,
        );
        let __mageflow_fed19 = __mageflow_step_19(
            __mageflow_route18,
            &__mageflow_seq15,
            __mageflow_node16,
        );
        let __mageflow_seq15 = ::mageflow::__private_v0_1_0::then(
            __mageflow_seq15,
            __mageflow_fed19,
        );
        let __mageflow_flow20 = ::mageflow::__private_v0_1_0::end(__mageflow_seq15);
        let __mageflow_flow8 = ::mageflow::__private_v0_1_0::on_success(
            __mageflow_flow8,
            __mageflow_flow20,
        );
        let (__mageflow_node21, __mageflow_binding22) = ::mageflow::__private_v0_1_0::node(
            alert,
        );
        let __mageflow_route23 = (&::mageflow::__private_v0_1_0::RouteProbe::of(
            &__mageflow_node21,
        ))
            .route();
        ::mageflow::__private_v0_1_0::check_ready(
            &__mageflow_route23,
            &__mageflow_binding22,
        );
        let __mageflow_fed24 = __mageflow_on_error_24(
            __mageflow_route23,
            __mageflow_node21,
        );
        let __mageflow_flow8 = ::mageflow::__private_v0_1_0::on_error(
            __mageflow_flow8,
            __mageflow_fed24,
        );
        __mageflow_flow8
    };
}
