// flow!(charge >> send_email.bind(template = "receipt", cc = None))
fn flow() {
    let _ = {
        #[allow(unused_imports)]
        use ::mageflow::__private_v0_1_0::{
            RouteOfTaskInput as _, RouteOfWholeInput as _,
        };
        let (__mageflow_node1, _) = ({
            fn node<N, I, O, B>(
                node: N,
            ) -> (
                ::mageflow::__private_v0_1_0::Flow<I, O>,
                ::core::marker::PhantomData<B>,
            )
            where
                N: ::mageflow::__private_v0_1_0::IntoFlow<
                    Input = I,
                    Output = O,
                    Binding = B,
                >,
            {
                (
                    ::mageflow::__private_v0_1_0::IntoFlow::into_flow(node),
                    ::core::marker::PhantomData,
                )
            }
            node
        })(charge);
        let __mageflow_seq2 = ::mageflow::__private_v0_1_0::seq(__mageflow_node1);
        let __mageflow_binder4 = ({
            #[diagnostic::on_unimplemented(
                message = "`send_email` is not a task, so it has no arguments to bind",
                label = "not a task",
                note = "`.bind(..)` binds fields of the input of a task made with `#[mageflow::task]`"
            )]
            trait Task: Sized {
                type Input;
                type Output;
                fn start(
                    self,
                ) -> ::mageflow::__private_v0_1_0::Binder<Self::Input, Self::Output, ()>;
            }
            #[diagnostic::do_not_recommend]
            impl<T: ::mageflow::__private_v0_1_0::Task> Task for T {
                type Input = T::Input;
                type Output = T::Output;
                fn start(
                    self,
                ) -> ::mageflow::__private_v0_1_0::Binder<T::Input, T::Output, ()> {
                    ::mageflow::__private_v0_1_0::Binder::new(&self)
                }
            }
            Task::start
        })(send_email);
        let (__mageflow_fields3, __mageflow_binder4) = ({
            fn fields<I, O, S, F, U>(
                binder: ::mageflow::__private_v0_1_0::Binder<I, O, S>,
            ) -> (F, ::mageflow::__private_v0_1_0::Binder<I, O, U>)
            where
                I: ::mageflow::__private_v0_1_0::InputFields<Fields = F, Unbound = U>,
            {
                ::mageflow::__private_v0_1_0::InputFields::bind_fields(binder)
            }
            fields
        })(__mageflow_binder4);
        let __mageflow_route5 = (&::mageflow::__private_v0_1_0::RouteProbe::of(
            &__mageflow_binder4,
        ))
            .route();
        let __mageflow_role6 = __mageflow_route5.role(&__mageflow_fields3.template);
        ({
            #[diagnostic::on_unimplemented(
                message = "`send_email.bind(template = ..)`: `template` receives the output of `charge`, so it cannot be bound",
                label = "`template` is fed by the previous step",
                note = "a task that follows another step gets that step's output in its \
                                    `#[mageflow(return_value)]` field: bind its other fields, or start the flow with \
                                    it to give that field in the flow's input"
            )]
            trait Bindable: Sized {
                fn field(_role: ::core::marker::PhantomData<Self>) {}
            }
            #[diagnostic::do_not_recommend]
            impl<M: ::mageflow::__private_v0_1_0::Unfed> Bindable for M {}
            Bindable::field
        })(__mageflow_role6);
        let __mageflow_binder4 = ::mageflow::__private_v0_1_0::bind(
            __mageflow_binder4,
            &__mageflow_fields3.template,
            &({
                #[diagnostic::on_unimplemented(
                    message = "`send_email.bind(template = ..)`: the field `template` takes `{F}`, but this value is `{Self}`",
                    label = "expected `{F}`"
                )]
                trait Fits<F>: Sized {
                    fn value<M>(
                        _slot: &::mageflow::__private_v0_1_0::Slot<M, F>,
                        value: Self,
                    ) -> Self {
                        value
                    }
                }
                #[diagnostic::do_not_recommend]
                impl<F> Fits<F> for F {}
                #[diagnostic::do_not_recommend]
                impl Fits<::std::string::String> for &str {}
                #[diagnostic::do_not_recommend]
                impl<F> Fits<F> for &F {}
                Fits::value
            })(&__mageflow_fields3.template, "receipt"),
        );
        let __mageflow_role7 = __mageflow_route5.role(&__mageflow_fields3.cc);
        ({
            #[diagnostic::on_unimplemented(
                message = "`send_email.bind(cc = ..)`: `cc` receives the output of `charge`, so it cannot be bound",
                label = "`cc` is fed by the previous step",
                note = "a task that follows another step gets that step's output in its \
                                    `#[mageflow(return_value)]` field: bind its other fields, or start the flow with \
                                    it to give that field in the flow's input"
            )]
            trait Bindable: Sized {
                fn field(_role: ::core::marker::PhantomData<Self>) {}
            }
            #[diagnostic::do_not_recommend]
            impl<M: ::mageflow::__private_v0_1_0::Unfed> Bindable for M {}
            Bindable::field
        })(__mageflow_role7);
        let __mageflow_binder4 = ::mageflow::__private_v0_1_0::bind(
            __mageflow_binder4,
            &__mageflow_fields3.cc,
            &({
                #[diagnostic::on_unimplemented(
                    message = "`send_email.bind(cc = ..)`: the field `cc` takes `{F}`, but this value is `{Self}`",
                    label = "expected `{F}`"
                )]
                trait Fits<F>: Sized {
                    fn value<M>(
                        _slot: &::mageflow::__private_v0_1_0::Slot<M, F>,
                        value: Self,
                    ) -> Self {
                        value
                    }
                }
                #[diagnostic::do_not_recommend]
                impl<F> Fits<F> for F {}
                #[diagnostic::do_not_recommend]
                impl Fits<::std::string::String> for &str {}
                #[diagnostic::do_not_recommend]
                impl<F> Fits<F> for &F {}
                Fits::value
            })(&__mageflow_fields3.cc, None),
        );
        let __mageflow_binding9 = __mageflow_binder4.binding();
        let __mageflow_missing10 = __mageflow_route5.missing(&__mageflow_binding9);
        ({
            #[diagnostic::on_unimplemented(
                message = "`send_email` follows `charge`, but its field `{Self}` is neither bound nor fed",
                label = "`{Self}` is required: bind it with `.bind({Self} = ...)`",
                note = "The output of `charge` goes to the `#[mageflow(return_value)]` field of the input of `send_email`; its other fields without a default must be bound"
            )]
            trait Bound: Sized {
                fn fields(_missing: ::core::marker::PhantomData<Self>) {}
            }
            #[diagnostic::do_not_recommend]
            impl Bound for ::mageflow::__private_v0_1_0::AllBound {}
            Bound::fields
        })(__mageflow_missing10);
        let __mageflow_node8 = ::mageflow::__private_v0_1_0::bound(__mageflow_binder4);
        let __mageflow_expected12 = __mageflow_route5.expected(&__mageflow_node8);
        let __mageflow_fed11 = ({
            #[diagnostic::on_unimplemented(
                message = "`send_email` takes `{E}`, but `charge` produces `{Self}`",
                label = "`send_email` does not take `{Self}`",
                note = "a step takes the previous step's output as its whole input, or in the \
                                    `#[mageflow(return_value)]` field of an input that derives `TaskInput`"
            )]
            trait Fits<E>: Sized {
                fn step<B, O>(
                    _expected: ::core::marker::PhantomData<E>,
                    _output: ::core::marker::PhantomData<Self>,
                    next: ::mageflow::__private_v0_1_0::Flow<B, O>,
                ) -> ::mageflow::__private_v0_1_0::Flow<Self, O> {
                    ::mageflow::__private_v0_1_0::retype(next)
                }
            }
            #[diagnostic::do_not_recommend]
            impl<T> Fits<T> for T {}
            Fits::step
        })(
            __mageflow_expected12,
            ::mageflow::__private_v0_1_0::output_of(&__mageflow_seq2),
            __mageflow_node8,
        );
        let __mageflow_seq2 = ::mageflow::__private_v0_1_0::then(
            __mageflow_seq2,
            __mageflow_fed11,
        );
        let __mageflow_flow13 = ::mageflow::__private_v0_1_0::end(__mageflow_seq2);
        let __mageflow_flow14 = __mageflow_flow13;
        __mageflow_flow14
    };
}
