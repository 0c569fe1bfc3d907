// flow!(charge >> send_email.bind(template = "receipt", cc = None))
fn flow() {
    let _ = {
        #[allow(unused_imports)]
        use ::mageflow::__private_v0_1_0::{
            RouteOfTaskInput as _, RouteOfWholeInput as _,
        };
        #[diagnostic::on_unimplemented(
            message = "`send_email.bind(template = ..)`: the field `template` takes `{F}`, but this value is `{Self}`",
            label = "expected `{F}`"
        )]
        trait MageflowBind5<F, K> {}
        impl<V: ::mageflow::__private_v0_1_0::BindAs<F, K>, F, K> MageflowBind5<F, K>
        for V {}
        fn __mageflow_bind_5<I, O, S, M, F, V, K>(
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
            V: MageflowBind5<F, K> + ::mageflow::__private_v0_1_0::serde::Serialize,
        {
            ::mageflow::__private_v0_1_0::bind(binder, slot, &value)
        }
        #[diagnostic::on_unimplemented(
            message = "`send_email.bind(cc = ..)`: the field `cc` takes `{F}`, but this value is `{Self}`",
            label = "expected `{F}`"
        )]
        trait MageflowBind6<F, K> {}
        impl<V: ::mageflow::__private_v0_1_0::BindAs<F, K>, F, K> MageflowBind6<F, K>
        for V {}
        fn __mageflow_bind_6<I, O, S, M, F, V, K>(
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
            V: MageflowBind6<F, K> + ::mageflow::__private_v0_1_0::serde::Serialize,
        {
            ::mageflow::__private_v0_1_0::bind(binder, slot, &value)
        }
        #[diagnostic::on_unimplemented(
            message = "`send_email` takes `{Self}`, but `charge` produces `{A}`",
            label = "`send_email` does not take `{A}`",
            note = "a step takes the previous step's output as its whole input, or in the \
                                `#[mageflow(return_value)]` field of an input that derives `TaskInput`"
        )]
        trait MageflowStep9<A, R> {}
        impl<T: ::mageflow::__private_v0_1_0::Accepts<A, R>, A, R> MageflowStep9<A, R>
        for T {}
        fn __mageflow_step_9<R, P: ::mageflow::__private_v0_1_0::Produces, B, O>(
            _route: R,
            _producer: &P,
            next: ::mageflow::__private_v0_1_0::Flow<B, O>,
        ) -> ::mageflow::__private_v0_1_0::Flow<
            <P as ::mageflow::__private_v0_1_0::Produces>::Output,
            O,
        >
        where
            B: MageflowStep9<<P as ::mageflow::__private_v0_1_0::Produces>::Output, R>,
        {
            ::mageflow::__private_v0_1_0::retype(next)
        }
        let (__mageflow_node1, _) = ::mageflow::__private_v0_1_0::node(charge);
        let __mageflow_seq2 = ::mageflow::__private_v0_1_0::seq(__mageflow_node1);
        let (__mageflow_fields3, __mageflow_binder4) = ::mageflow::__private_v0_1_0::bind_start(
            send_email,
        );
        let __mageflow_binder4 = __mageflow_bind_5(
            __mageflow_binder4,
            __mageflow_fields3.template,
            "receipt",
        );
        let __mageflow_binder4 = __mageflow_bind_6(
            __mageflow_binder4,
            __mageflow_fields3.cc,
            None,
        );
        let __mageflow_route8 = (&::mageflow::__private_v0_1_0::RouteProbe::of(
            &__mageflow_binder4,
        ))
            .route();
        ::mageflow::__private_v0_1_0::check_ready(
            &__mageflow_route8,
            &__mageflow_binder4.binding(),
        );
        let __mageflow_node7 = ::mageflow::__private_v0_1_0::bound(__mageflow_binder4);
        let __mageflow_fed9 = __mageflow_step_9(
            __mageflow_route8,
            &__mageflow_seq2,
            __mageflow_node7,
        );
        let __mageflow_seq2 = ::mageflow::__private_v0_1_0::then(
            __mageflow_seq2,
            __mageflow_fed9,
        );
        let __mageflow_flow10 = ::mageflow::__private_v0_1_0::end(__mageflow_seq2);
        let __mageflow_flow11 = __mageflow_flow10;
        __mageflow_flow11
    };
}
